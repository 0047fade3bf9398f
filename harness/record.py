"""Record what the real Claude CLI prints for each scenario, run exactly as the proxy runs it.

Usage: python -m harness.record [--version V (default: fixtures/PINNED)] [--claude PATH] [--only NAME ...] [--out fixtures]

Each run gets a fresh HOME and working directory and its own StubUpstream, and is written to
<out>/cli-<version>/<scenario>.json: argv, every stdout line with its arrival time, stderr, exit
code, the requests the stub received, and the machine's load (harness/machine.py: the CPUs and
load average before the run, the CLI's wall and CPU time), since the times are that machine's.
harness/fake_claude.py replays these files.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from harness import machine
from harness.install_cli import REPO, ensure_cli, installed_version
from harness.record_scenarios import SCENARIOS, Scenario
from harness.stub_upstream import SCENARIOS as STUB_REPLIES, StubUpstream
from proxy import seeds as seeding
from proxy.command import CliInput, environment, prepare, stdin_bytes
from proxy.config import Settings

PINNED = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "PINNED"),
              encoding="utf-8").read().strip()
CAP = 15.0
WARM_DELAY = 1.5  # seconds a warm scenario's CLI waits, started, before it is sent its request  # seconds: every scenario fails or finishes fast, so a longer run is a finding
KILL_GRACE = 2.0
# Inherited settings that would point the CLI at something other than the stub, or log it in.
UNWANTED_ENV = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS", "CLAUDE_CONFIG_DIR", "CLAUDE_CODE_OAUTH_TOKEN",
                "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "HTTPS_PROXY", "HTTP_PROXY",
                "https_proxy", "http_proxy")


class TooSlow(RuntimeError):
    """A recording ran past CAP seconds."""


SETTINGS = dict(max_retries=0)
CAPTURE = "seeds"  # the recording of the run that captures the CLI's environment records


def record(claude, version, scenario, seeds):
    """Run one scenario against a fresh stub, its transcript headed by seeds; return its recording."""
    cli_input = scenario.cli_input()
    # A warm scenario is started with what a spare is (proxy/spares.py) and sent the rest later.
    spawned = CliInput(model=cli_input.model, message=(), history=cli_input.history,
                       max_turns=cli_input.max_turns) if scenario.warm else cli_input
    workdir, cwd, argv, env = prepare(Settings(claude_path=claude, **SETTINGS), spawned, seeds, "claude-record-")
    try:
        proxy_argv = list(argv)
        if scenario.change_argv:
            argv = scenario.change_argv(argv)
        controls = "".join(json.dumps(line) + "\n" for line in scenario.controls).encode()
        run, requests = _run(argv, env, cwd, controls + stdin_bytes(cli_input, spawned), scenario)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "cli_version": version, "scenario": scenario.name, "description": scenario.description,
        "recorded_with": "harness/record.py",
        "input": dataclasses.asdict(cli_input), "controls": list(scenario.controls),
        "argv": _placeholders(argv[1:], workdir),
        "proxy_argv": _placeholders(proxy_argv[1:], workdir),
        **run,
        "upstream_requests": [_request(r) for r in requests],
        "host_details_seen": host_details(requests, workdir),
    }


def record_seeds(claude, version):
    """Run the CLI as the proxy does at start-up to capture its environment records; return (Seeds, recording)."""
    workdir = tempfile.mkdtemp(prefix="claude-record-")
    try:
        argv, cwd, stdin = seeding.capture_command(Settings(claude_path=claude, **SETTINGS), workdir)
        scenario = Scenario(CAPTURE, "The run the proxy makes at start-up: it resumes a two-turn conversation "
                                     "without --no-session-persistence, so that the CLI writes its own environment "
                                     "records next to it.")
        run, requests = _run(argv, environment(Settings(**SETTINGS)), cwd, stdin, scenario)
        found = seeding.captured(workdir)
        written = [_placeholders_in(line, workdir) for path in sorted(os.listdir(workdir))
                   if path.endswith(".jsonl") and path != "seed.jsonl"
                   for line in open(os.path.join(workdir, path), encoding="utf-8").read().splitlines()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return found, {
        "cli_version": version, "scenario": CAPTURE, "description": scenario.description,
        "recorded_with": "harness/record.py",
        "input": {"model": Settings().model, "message": [{"type": "text", "text": "Hello"}]},
        "argv": _placeholders(argv[1:], workdir), "proxy_argv": _placeholders(argv[1:], workdir),
        **run,
        "upstream_requests": [_request(r) for r in requests],
        "written_transcript": written,
        "captured": [a for a in found.attachments] if found else None,
    }


def _run(argv, env, cwd, stdin, scenario):
    """Run the CLI against a fresh stub in a fresh HOME; return (the run, the requests the stub received)."""
    home = tempfile.mkdtemp(prefix="claude-home-")
    try:
        with StubUpstream() as stub:
            if scenario.upstream:
                stub.expect(STUB_REPLIES[scenario.upstream])
            for name in UNWANTED_ENV:
                env.pop(name, None)
            env.update(HOME=home, ANTHROPIC_BASE_URL=stub.url, ANTHROPIC_API_KEY="sk-test")
            if not scenario.logged_in:
                del env["ANTHROPIC_API_KEY"]
            before, cpu = machine.snapshot(), machine.children_cpu()
            run = run_cli(argv, env, cwd, stdin, scenario)
            run["machine"] = {**before, "wall_s": run.pop("wall_s"), "cli_cpu_s": round(machine.children_cpu() - cpu, 3)}
            return run, list(stub.requests)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def host_details(requests, workdir):
    """Name the details of this host that reached the upstream: the kernel release, the run's directory."""
    sent = json.dumps([r["body"] for r in requests], ensure_ascii=False)
    found = {"kernel release": platform.release(), "working directory": workdir}
    return sorted(name for name, value in found.items() if value and value in sent)


def run_cli(argv, env, cwd, stdin, scenario):
    """Run the CLI once; return returncode, killed_after, stderr and the timed stdout lines."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=cwd, env=env, start_new_session=True)
    stderr = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    try:
        if scenario.warm:
            time.sleep(WARM_DELAY)
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it exited before reading its prompt; the exit code says why
    timers = [threading.Timer(CAP, _signal_group, (proc, signal.SIGKILL))]
    if scenario.kill_after is not None:
        timers.append(threading.Timer(scenario.kill_after, _terminate, (proc,)))
    for timer in timers:
        timer.start()
    lines, killed_after = [], scenario.kill_after
    for raw in proc.stdout:
        t = round(time.monotonic() - start, 3)
        line = raw.decode("utf-8", "replace")
        lines.append({"t": t, "line": line[:-1] if line.endswith("\n") else line})
        if scenario.kill_on_first_delta and killed_after is None and '"text_delta"' in line:
            _signal_group(proc, signal.SIGKILL)
            killed_after = t
    returncode = proc.wait()
    for timer in timers:
        timer.cancel()
    reader.join()
    wall = round(time.monotonic() - start, 3)
    if wall >= CAP:
        raise TooSlow(f"{scenario.name}: still running after {CAP:.0f} s, killed ({len(lines)} stdout lines)")
    return {"returncode": returncode, "killed_after": killed_after,
            "stderr": b"".join(stderr).decode("utf-8", "replace"), "stdout": lines, "wall_s": wall}


def _terminate(proc):
    # What the proxy does at its deadline: SIGTERM the group, then SIGKILL what is left.
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _placeholders(args, workdir):
    return [_placeholders_in(a, workdir) for a in args]


def _placeholders_in(text, workdir):
    return text.replace(workdir, "<workdir>")


def _request(request):
    # anthropic-beta is kept because the CLI retries some 400s with fewer betas and the same body.
    body = request["body"]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return {"path": request["path"], "anthropic_beta": headers.get("anthropic-beta"),
            "body": {k: v for k, v in body.items() if k != "metadata"} if isinstance(body, dict) else body}


def _summary(rec):
    result = next((e for e in map(_event, rec["stdout"]) if e.get("type") == "result"), None)
    return (f"{rec['scenario']:<16} rc={rec['returncode']:<4} lines={len(rec['stdout']):<3} "
            f"requests={len(rec['upstream_requests'])} "
            f"end={rec['stdout'][-1]['t'] if rec['stdout'] else '-'} "
            f"result={json.dumps((result or {}).get('result'))[:80]}")


def _event(entry):
    try:
        event = json.loads(entry["line"])
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=PINNED, help="CLI version to install if --claude is not given "
                        "(default: fixtures/PINNED)")
    parser.add_argument("--claude", help="path of the CLI to record (default: install --version)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[s.name for s in SCENARIOS])
    parser.add_argument("--out", default=os.path.join(REPO, "fixtures"))
    args = parser.parse_args(argv)
    claude = os.path.abspath(args.claude) if args.claude else ensure_cli(args.version)
    version = installed_version(claude)
    if version is None:
        parser.error(f"{claude} --version failed")
    out = os.path.join(args.out, f"cli-{version}")
    os.makedirs(out, exist_ok=True)
    try:
        seeds, rec = record_seeds(claude, version)
        _write(out, rec)
        for scenario in SCENARIOS:
            if not args.only or scenario.name in args.only:
                _write(out, record(claude, version, scenario, seeds))
    except TooSlow as exc:
        print(f"STOPPED: {exc}", file=sys.stderr)
        return 1
    return 0


def _write(out, rec):
    with open(os.path.join(out, f"{rec['scenario']}.json"), "w", encoding="utf-8") as f:
        json.dump(rec, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(_summary(rec), flush=True)


if __name__ == "__main__":
    sys.exit(main())
