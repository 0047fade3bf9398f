"""Put a fake `claude` executable, replaying the recordings in a fixtures directory, on disk."""
from __future__ import annotations

import os
import shlex
import sys

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_claude.py")


def make_fake_cli(directory, fixtures_dir, pace=0.0, log=None):
    """Write `<directory>/claude`, a shell wrapper around fake_claude.py, and return its path.

    The options are baked into the wrapper because the proxy runs the CLI with an environment
    built from an allow-list, so environment variables would not reach the fake.
    """
    command = [sys.executable, FAKE, "--fixtures", os.path.abspath(fixtures_dir), "--pace", str(pace)]
    if log:
        command += ["--log", os.path.abspath(log)]
    path = os.path.join(os.path.abspath(directory), "claude")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nexec {" ".join(shlex.quote(c) for c in command)} -- "$@"\n')
    os.chmod(path, 0o755)
    return path
