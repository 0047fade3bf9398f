#!/usr/bin/env python3
"""Stand in for the `claude` CLI by replaying a recording made by harness/record.py.

Usage: fake_claude.py --fixtures DIR [--pace 0] [--log FILE] -- <claude args...>

The recording is the one named by the `[stub:NAME]` marker on stdin, or else in the --resume file
(default "success", or "json_schema" when asked for structured output); a run without
--no-session-persistence is the proxy's start-up capture ("seeds"), and writes the transcript the
real CLI wrote next to the one it resumed. Its stdout lines come out in order, then its stderr,
then its exit code. A recording that was killed
sleeps until it is killed, and one that died by a signal kills itself with that signal.

By default (pace 0) the lines come out at once: the times a recording holds are those of the
machine that made it, so a test that needs silence says so itself with a `[hold:WHAT]` marker on
stdin: once the model's message has begun (the first message_start line), nothing more comes out
for WHAT seconds, or until the file WHAT (an absolute path) exists, or, for `forever`, until the
fake is killed. --pace 1 replays at the recorded pace instead (times pace).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import sys
import time

MARKER = re.compile(r"\[stub:([a-z_]+)\]")
HOLD = re.compile(r"\[hold:([^\]\s]+)\]")
POLL = 0.02  # seconds between looks for a hold's file
FREE_VALUES = ("--model", "--effort", "--system-prompt-file", "--resume", "--resume-session-at", "--max-turns",
               "--max-thinking-tokens", "--thinking-display")  # values may differ
OPTIONAL = ("--effort", "--resume", "--resume-session-at", "--max-thinking-tokens",
            "--thinking-display")  # may be absent or present, with their value


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        return _fail("usage: fake_claude.py --fixtures DIR [--pace 1.0] [--log FILE] -- <claude args...>")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="fake_claude.py")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--log")
    options = parser.parse_args(argv[:split])
    args = argv[split + 1:]
    if args == ["--version"]:
        print(f"{_cli_version(options.fixtures)} (Claude Code)", flush=True)
        return 0
    stdin = sys.stdin.buffer.read().decode("utf-8", "replace")
    # The marker is in the prompt; a conversation that ends with function results has it earlier.
    markers = MARKER.findall(stdin) or MARKER.findall(_file_after(args, "--resume"))
    name = markers[-1] if markers else ("json_schema" if '"jsonSchema"' in stdin else "success")
    capture = "--no-session-persistence" not in args and "--resume" in args
    if capture:
        name = "seeds"
    if options.log:
        _log(options.log, args, stdin, name)
    path = os.path.join(options.fixtures, f"{name}.json")
    if not os.path.isfile(path):
        return _fail(f"fake claude: no recording named {name!r} in {options.fixtures}")
    with open(path, encoding="utf-8") as f:
        recording = json.load(f)
    problem = argv_mismatch(args, [recording["argv"], recording.get("proxy_argv") or recording["argv"]])
    if problem:
        return _fail(f"fake claude: argv does not match recording {name!r}: {problem}")
    if capture:
        _write_transcript(recording, os.path.dirname(_value(args, "--resume")))
    holds = HOLD.findall(stdin)
    return replay(recording, options.pace, hold=holds[-1] if holds and not capture else None)


def _write_transcript(recording, workdir):
    """Write the transcript the recorded CLI wrote next to the one it resumed, in this run's directory."""
    with open(os.path.join(workdir, "written.jsonl"), "w", encoding="utf-8") as f:
        f.write("".join(line.replace("<workdir>", workdir) + "\n" for line in recording["written_transcript"]))


def argv_mismatch(args, recorded):
    """Return why args has a different shape from every argv in recorded, or None if one matches."""
    shape = _shape(args)
    problems = []
    for other in recorded:
        expected = _shape(other)
        if shape == expected:
            return None
        at = next((i for i, (a, b) in enumerate(zip(shape, expected)) if a != b), min(len(shape), len(expected)))
        got = shape[at] if at < len(shape) else "(end)"
        want = expected[at] if at < len(expected) else "(end)"
        problems.append(f"argument {at} (not counting {'/'.join(OPTIONAL)}) is {got!r} where the recording "
                        f"has {want!r}; recorded argv: {other}")
    return "; ".join(dict.fromkeys(problems))


def _file_after(args, flag):
    """Return the text of the file named after flag in args, or "" when there is none."""
    if flag not in args or args.index(flag) + 1 >= len(args):
        return ""
    try:
        with open(args[args.index(flag) + 1], encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def _shape(args):
    """Drop the optional flags and blank out the values that may differ, keeping order."""
    shape, i = [], 0
    while i < len(args):
        flag = args[i]
        if flag in FREE_VALUES and i + 1 < len(args):
            if flag not in OPTIONAL:
                shape += [flag, "<value>"]
            i += 2
            continue
        shape.append(flag)
        i += 1
    return shape


def replay(recording, pace, hold=None):
    """Print the recorded lines (on time, with a pace), then stderr, then end as the recorded CLI did.

    hold (seconds, an absolute path, or "forever") is silence after the first message_start line.
    """
    returncode = recording["returncode"]
    if recording.get("killed_after") is not None and returncode > 0:
        # The recorded CLI answered SIGTERM with this exit code (143), not by dying of the signal.
        signal.signal(signal.SIGTERM, lambda *_: os._exit(returncode))
    start = time.monotonic()
    out = sys.stdout.buffer
    for entry in recording["stdout"]:
        if pace > 0:
            time.sleep(max(0.0, start + entry["t"] * pace - time.monotonic()))
        out = _write(out, entry["line"].encode("utf-8") + b"\n")
        if hold is not None and _begins_message(entry["line"]):
            held = time.monotonic()
            _hold(hold)
            start += time.monotonic() - held  # the rest keeps its recorded spacing
            hold = None
    _write(sys.stderr.buffer, recording["stderr"].encode("utf-8"))
    if returncode < 0:
        os.kill(os.getpid(), -returncode)
    if recording.get("killed_after") is not None:
        while True:  # the recorded CLI was still running when it was killed
            time.sleep(3600)
    return returncode


def _begins_message(line):
    try:
        event = json.loads(line)
    except ValueError:
        return False
    inner = event.get("event") if isinstance(event, dict) else None
    return isinstance(inner, dict) and inner.get("type") == "message_start"


def _hold(what):
    """Be silent for what seconds, until the file what exists, or (for "forever") until killed."""
    if what == "forever":
        while True:
            time.sleep(3600)
    if what.startswith("/"):
        while not os.path.exists(what):
            time.sleep(POLL)
        return
    time.sleep(float(what))


def _write(stream, data):
    # Like the real CLI, keep going when the reader has gone: it never notices a closed stdout.
    try:
        stream.write(data)
        stream.flush()
        return stream
    except BrokenPipeError:
        return open(os.devnull, "wb")


def _log(path, args, stdin, name):
    cwd = os.getcwd()
    lines = [_json_or_text(line) for line in stdin.splitlines() if line.strip()]
    records = _history(_value(args, "--resume"))
    records = records if isinstance(records, list) else []
    entry = {
        "argv": args, "stdin": stdin, "cwd": cwd, "cwd_entries": sorted(os.listdir(cwd)),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("ANTHROPIC_", "CLAUDE_")) or k in ("HOME", "PATH")},
        "system_prompt": _read(_value(args, "--system-prompt-file")),
        "prompt": next((line["message"]["content"] for line in lines
                        if isinstance(line, dict) and line.get("type") == "user"), None),
        "control": [line["request"] for line in lines if isinstance(line, dict) and line.get("type") == "control_request"],
        "history": [r for r in records if isinstance(r, dict) and r.get("type") in ("user", "assistant")],
        "seeds": [r for r in records if isinstance(r, dict) and r.get("type") == "attachment"],
        "scenario": name,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _value(args, flag):
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def _read(path):
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        return f"<unreadable: {exc}>"


def _history(path):
    text = _read(path)
    if text is None or text.startswith("<unreadable"):
        return text
    return [_json_or_text(line) for line in text.splitlines() if line.strip()]


def _json_or_text(line):
    try:
        return json.loads(line)
    except ValueError:
        return line


def _cli_version(fixtures):
    for path in sorted(glob.glob(os.path.join(fixtures, "*.json"))):
        with open(path, encoding="utf-8") as f:
            return json.load(f)["cli_version"]
    return "0.0.0"


def _fail(message):
    print(message, file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main())
