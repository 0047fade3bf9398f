#!/usr/bin/env python3
"""Stand in for the `claude` CLI by replaying a recording made by harness/record.py.

Usage: fake_claude.py --fixtures DIR [--pace 1.0] [--log FILE] -- <claude args...>

The recording is the one named by the `[stub:NAME]` marker on stdin, or else in the --resume file
(default "success", or "json_schema" when asked for structured output). Its
stdout lines come out at their recorded times (times pace; pace 0 means at once), then its
stderr, then its exit code. A recording that was killed sleeps until it is killed, and one that
died by a signal kills itself with that signal.
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
FREE_VALUES = ("--model", "--effort", "--system-prompt-file", "--resume", "--max-turns", "--json-schema",
               "--input-format", "--max-thinking-tokens", "--thinking-display")  # values may differ
OPTIONAL = ("--effort", "--resume", "--json-schema", "--input-format", "--max-thinking-tokens",
            "--thinking-display")  # may be absent or present, with their value


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        return _fail("usage: fake_claude.py --fixtures DIR [--pace 1.0] [--log FILE] -- <claude args...>")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="fake_claude.py")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--log")
    options = parser.parse_args(argv[:split])
    args = argv[split + 1:]
    if args == ["--version"]:
        print(f"{_cli_version(options.fixtures)} (Claude Code)", flush=True)
        return 0
    stdin = sys.stdin.buffer.read().decode("utf-8", "replace")
    # The marker is in the prompt; a conversation that ends with function results has it earlier.
    markers = MARKER.findall(stdin) or MARKER.findall(_file_after(args, "--resume"))
    name = markers[-1] if markers else ("json_schema" if "--json-schema" in args else "success")
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
    return replay(recording, options.pace)


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


def replay(recording, pace):
    """Print the recorded lines on time, then stderr, then end as the recorded CLI did."""
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
    _write(sys.stderr.buffer, recording["stderr"].encode("utf-8"))
    if returncode < 0:
        os.kill(os.getpid(), -returncode)
    if recording.get("killed_after") is not None:
        while True:  # the recorded CLI was still running when it was killed
            time.sleep(3600)
    return returncode


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
    entry = {
        "argv": args, "stdin": stdin, "cwd": cwd, "cwd_entries": sorted(os.listdir(cwd)),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("ANTHROPIC_", "CLAUDE_")) or k in ("HOME", "PATH")},
        "system_prompt": _read(_value(args, "--system-prompt-file")),
        "history": _history(_value(args, "--resume")),
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
