"""Check a Claude CLI version before upgrading to it: record it, diff it, and run the suites on it.

Usage: python -m harness.upgrade VERSION [--force | --keep] [--against PINNED] [--no-tests]
       (or: tox -e cli -- VERSION, or: claude-proxy-upgrade-check VERSION)

Installs @anthropic-ai/claude-code@VERSION into .cache/, records every scenario into
fixtures/cli-VERSION/ (the pinned version's only with --force), writes the structural diff against
the pinned version to fixtures/diff-PINNED-VERSION.md, then runs the contract tests over the new
recordings and the integration tests against the new CLI, and adds their results to the report.
Exits 0 only if the diff found nothing breaking and both suites passed. --keep reuses the
recordings already there (to re-check after the pinned version's fixtures were re-recorded).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from harness import diff, machine, record
from harness.install_cli import REPO, InstallError, ensure_cli
from harness.signature import load

FIXTURES = os.path.join(REPO, "fixtures")


def pinned():
    """Return the version named by fixtures/PINNED."""
    with open(os.path.join(FIXTURES, "PINNED"), encoding="utf-8") as f:
        return f.read().strip()


def record_version(claude, version):
    """Record every scenario for version into a scratch directory, then swap it in whole; return 0 if done."""
    scratch = tempfile.mkdtemp(prefix=f".cli-{version}-", dir=FIXTURES)
    try:
        if record.main(["--claude", claude, "--out", scratch]) != 0:
            return 1
        target = os.path.join(FIXTURES, f"cli-{version}")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(os.path.join(scratch, f"cli-{version}"), target)
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_diff(old, new):
    """Write fixtures/diff-OLD-NEW.md, print it, and return (whether nothing breaks, the report's path)."""
    before, after = load(FIXTURES, old), load(FIXTURES, new)
    changes = diff.compare(before, after)
    text = diff.report(old, new, changes, set(before) | set(after), machine.timings(old, before, new, after))
    path = os.path.join(FIXTURES, f"diff-{old}-{new}.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text, f"(written to {os.path.relpath(path, REPO)})", sep="\n")
    return not any(c.breaks for c in changes), path


def run_suite(args, **env):
    """Run pytest with extra environment, echoing its output; return (passed, its summary line, the command)."""
    command = f"{' '.join(f'{k}={v}' for k, v in env.items())} pytest {' '.join(args)}"
    print(f"\n== {command}", flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=REPO, env={**os.environ, **env},
                            stdout=subprocess.PIPE, text=True)
    summary = ""
    for line in proc.stdout:
        print(line, end="", flush=True)
        summary = line.strip(" =\n") if " in " in line and ("passed" in line or "failed" in line) else summary
    return proc.wait() == 0, summary or f"exit status {proc.returncode}", command


def append_suites(path, version, suites):
    """Add what the suites said about version to the report."""
    lines = [f"## The suites against {version}", ""]
    lines += [f"- `{command}`: {'passed' if ok else '**FAILED**'} ({summary})" for ok, summary, command in suites]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the CLI version to check, e.g. 2.1.330")
    parser.add_argument("--against", default=None, help="the version to diff against (default: fixtures/PINNED)")
    parser.add_argument("--force", action="store_true", help="re-record even the pinned version's fixtures")
    parser.add_argument("--keep", action="store_true", help="reuse fixtures/cli-VERSION/ rather than record again")
    parser.add_argument("--no-tests", action="store_true", help="record and diff only")
    args = parser.parse_args(argv)
    against = args.against or pinned()
    if args.version == pinned() and not (args.force or args.keep):
        parser.error(f"{args.version} is the pinned version: its fixtures are the suite's. Use --force to "
                     "re-record them (or `tox -e record`).")
    if not args.keep:
        try:
            claude = ensure_cli(args.version)
        except InstallError as exc:
            print(exc, file=sys.stderr)
            return 1
        if record_version(claude, args.version) != 0:
            return 1
    holds, report = write_diff(against, args.version)
    suites = [] if args.no_tests else [
        run_suite(["contract_tests", "-q"], CLI_FIXTURES_VERSION=args.version),
        run_suite(["tests/integration", "-q"], CLI_VERSION=args.version),
    ]
    if suites:
        append_suites(report, args.version, suites)
    print(f"\ndiff against {against}: {'holds' if holds else 'BREAKS'}")
    for ok, summary, command in suites:
        print(f"{command}: {'passed' if ok else 'FAILED'} ({summary})")
    return 0 if holds and all(ok for ok, _, _ in suites) else 1

if __name__ == "__main__":
    sys.exit(main())
