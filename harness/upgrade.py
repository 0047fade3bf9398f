"""Check Claude CLI versions before upgrading: record each, diff it, run the suites on it, note the result.

Usage: python -m harness.upgrade VERSION... [--listed] [--force | --keep] [--against V] [--no-tests]
       (or: tox -e cli -- VERSION...)

VERSION is a version (2.1.332) or an npm dist-tag (latest); --listed adds every version already in
fixtures/compatibility.json. For each (the pinned version first, as the others are compared with
it): installs @anthropic-ai/claude-code@VERSION into .cache/, records every scenario into
fixtures/cli-VERSION/, writes the structural diff against the pinned version to
fixtures/diff-PINNED-VERSION.md, runs the contract tests over the new recordings and the
integration tests against the new CLI, and adds to the report what was checked, when, how busy
the machine was, and each suite's result. The outcome goes into fixtures/compatibility.json and
the README's table (harness/compat.py). The pinned version's recordings are the suite's: they are
checked as they are, and re-recorded only with --force. --keep re-checks the recordings already
there; --no-tests records and diffs only, and notes nothing. Exits 0 only if every version's diff
found nothing breaking and its suites passed.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import compat, diff, install_cli, machine, record
from harness.install_cli import REPO, InstallError, ensure_cli
from harness.signature import load
from proxy.versions import parse

FIXTURES = os.path.join(REPO, "fixtures")
README = os.path.join(REPO, "README.md")
SUMMARY = re.compile(r"\b\d+ (passed|failed|errors?|skipped|deselected)\b.* in [\d.]+s")


def pinned():
    """Return the version named by fixtures/PINNED."""
    return compat.pinned(FIXTURES)


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


def write_report(old, new, check=()):
    """Write fixtures/diff-OLD-NEW.md with the check's lines after the verdict; return (the Changes, its path)."""
    before, after = load(FIXTURES, old), load(FIXTURES, new)
    changes = diff.compare(before, after)
    text = diff.report(old, new, changes, set(before) | set(after), machine.timings(old, before, new, after),
                       intro=check)
    path = os.path.join(FIXTURES, f"diff-{old}-{new}.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return changes, text, path


def run_suite(args, **env):
    """Run pytest with extra environment, echoing its output; return (passed, its summary line, the command)."""
    command = f"{' '.join(f'{k}={v}' for k, v in env.items())} pytest {' '.join(args)}"
    print(f"\n== {command}", flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=REPO, env={**os.environ, **env},
                            stdout=subprocess.PIPE, text=True)
    summary = ""
    for line in proc.stdout:
        print(line, end="", flush=True)
        found = SUMMARY.search(line)
        summary = found.group(0) if found else summary
    return proc.wait() == 0, summary or f"exit status {proc.returncode}", command


def check_lines(version, asked, against, started, recorded, load_at, suites, verdict):
    """Return the report's section on the check itself: what, when, on what machine, each suite, the result."""
    tag = f"npm's `{asked}`, " if asked != version else ""
    published = install_cli.published(version) or "date unknown"
    lines = ["## This check", "",
             f"- Checked: Claude CLI {version} ({tag}published {published}) against the pinned {against}",
             f"- When: {started:%Y-%m-%d %H:%M} UTC; "
             + ("recorded anew" if recorded else "over the recordings already in fixtures/"),
             "- Machine: " + "; ".join(f"{machine.describe(note)} at the {when}" for when, note in load_at)]
    lines += [f"- `{command}`: {'passed' if ok else '**FAILED**'} ({summary})" for ok, summary, command in suites]
    return lines + [f"- Result: {verdict}", ""]


def check(version, asked, against, keep, tests):
    """Check one version and note it in the compatibility record; return whether it passed."""
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at = [("start", machine.snapshot())]
    if not keep:
        try:
            claude = ensure_cli(version)
        except InstallError as exc:
            print(exc, file=sys.stderr)
            return False
        if record_version(claude, version) != 0:
            print(f"recording {version} failed: the check stops here", file=sys.stderr)
            return False
    changes, text, report = write_report(against, version, check_lines(
        version, asked, against, started, not keep, load_at, [], "the suites are running"))
    print(text, f"(written to {os.path.relpath(report, REPO)})", sep="\n")
    holds = not any(c.breaks for c in changes)
    suites = [] if not tests else [
        run_suite(["contract_tests", "-q", "-p", "no:cacheprovider"], CLI_FIXTURES_VERSION=version),
        run_suite(["tests/integration", "-q", "-p", "no:cacheprovider"], CLI_VERSION=version),
    ]
    load_at.append(("end", machine.snapshot()))
    passed = holds and bool(suites) and all(ok for ok, _, _ in suites)
    write_report(against, version, check_lines(version, asked, against, started, not keep, load_at, suites,
                                               _verdict(holds, suites)))
    if tests:  # a record-and-diff preview is no check of the version
        noted = compat.add({
            "version": version, "published": install_cli.published(version),
            "checked_at": f"{started:%Y-%m-%dT%H:%MZ}", "against": against, "recorded": "anew" if not keep else "kept",
            "diff": "holds" if holds else "BREAKS", "breaking": sum(c.breaks for c in changes),
            "contract": _suite(suites, 0), "integration": _suite(suites, 1),
            "machine": dict(load_at), "report": os.path.relpath(report, REPO), "passed": passed}, FIXTURES)
        compat.write_readme(noted, README)
    print(f"\n{version}: diff against {against}: {'holds' if holds else 'BREAKS'}")
    for ok, summary, command in suites:
        print(f"{command}: {'passed' if ok else 'FAILED'} ({summary})")
    return holds and all(ok for ok, _, _ in suites)


def _verdict(holds, suites):
    if not suites:
        return f"**diff only**: the diff {'holds' if holds else 'BREAKS'}; the suites were not run"
    failed = [part for part, bad in (("the diff BREAKS", not holds),
                                     ("a suite failed", not all(ok for ok, _, _ in suites))) if bad]
    return "**failed**: " + ", ".join(failed) if failed else "**passed**: the diff holds and both suites passed"


def _suite(suites, index):
    if index >= len(suites):
        return None
    ok, summary, command = suites[index]
    return {"passed": ok, "summary": summary, "command": command}


def order(versions, first):
    """Return versions without repeats, first (the version the others are compared with) first, then oldest first."""
    unique = sorted(set(versions), key=parse)
    return [first] * (first in unique) + [v for v in unique if v != first]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", metavar="VERSION", help="a CLI version, e.g. 2.1.332, or latest")
    parser.add_argument("--listed", action="store_true", help="also every version in fixtures/compatibility.json")
    parser.add_argument("--against", default=None, help="the version to diff against (default: fixtures/PINNED)")
    parser.add_argument("--force", action="store_true", help="re-record even the pinned version's fixtures")
    parser.add_argument("--keep", action="store_true", help="reuse fixtures/cli-VERSION/ rather than record again")
    parser.add_argument("--no-tests", action="store_true",
                        help="record and diff only (a preview: not noted in fixtures/compatibility.json)")
    args = parser.parse_args(argv)
    asked = list(args.versions) + [e["version"] for e in compat.load(FIXTURES)["versions"]] * args.listed
    if not asked:
        parser.error("name a VERSION (or latest), or --listed")
    try:
        names = {install_cli.resolve(name): name for name in reversed(asked)}
    except InstallError as exc:
        print(exc, file=sys.stderr)
        return 1
    against = args.against or pinned()
    results = {}
    for version in order(names, against):
        keep = args.keep or (version == pinned() and not args.force)
        if version == pinned() and keep and not args.keep:
            print(f"{version} is the pinned version: its recordings are the suite's and are checked as they are "
                  "(--force re-records them)")
        results[version] = check(version, names[version], against, keep, not args.no_tests)
    if len(results) > 1:
        print("\n" + "\n".join(f"{v}: {'passed' if ok else 'FAILED'}" for v, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
