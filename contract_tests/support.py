"""Helpers shared by the contract and integration tests."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import requests

from harness.fake_cli import make_fake_cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERSION = os.environ.get("CLI_FIXTURES_VERSION") or (ROOT / "fixtures" / "PINNED").read_text().strip()
FIXTURES = ROOT / "fixtures" / f"cli-{VERSION}"
CLI_VERSION = os.environ.get("CLI_VERSION") or VERSION  # the real CLI the integration tests install and run


def fake_cli_processes(server):
    """Pids of live fake CLI processes started by this server (zombies do not count)."""
    marker = str(server.log)
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "fake_claude.py" in cmdline and marker in cmdline and state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def _text_of(content):
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") for block in content or () if isinstance(block, dict))


def process_tree():
    """Map each pid to the pids of its live (not zombie) children."""
    children = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def watchdog_of(worker, tree=None):
    """The pid of a worker's watchdog (proxy/reaper.py), or None."""
    tree = process_tree() if tree is None else tree
    return next((child for child in tree.get(worker, ()) if any(a.endswith("reaper.py") for a in cmdline(child))),
                None)


def descendants(pid, tree=None):
    """Pids of the live processes below pid."""
    tree = process_tree() if tree is None else tree
    found, todo = [], list(tree.get(pid, ()))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(tree.get(child, ()))
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`gunicorn proxy:app` on a free port, as an operator would start it.

    Its CLI is the fake replaying the recordings in fixtures at once (pace 0), whatever pace they
    were recorded at; a test that needs the CLI silent asks for it with a `[hold:...]` marker.
    """

    def __init__(self, tmp, claude=None, command=None, cwd=ROOT, port=None, environ=None, fixtures=FIXTURES, **env):
        self.log = tmp / "fake-cli.log"
        self.claude = claude or make_fake_cli(tmp, fixtures, pace=0, log=self.log)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if environ is None:
            environ = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PROXY_", "RESPONSES_"))}
            environ.update(CLAUDE_PATH=self.claude, PORT=str(self.port), RESPONSES_DB=str(tmp / "responses.sqlite3"))
            # The fake CLI replays cold runs: no spares (the integration tests run them with the real CLI).
            environ.update(WARM_SPARES="0", WARM_CONVERSATIONS="0")
        environ.update(env)
        self.output = open(tmp / "gunicorn.log", "w")
        self.proc = subprocess.Popen(command or [sys.executable, "-m", "gunicorn", "proxy:app"], cwd=cwd,
                                     env=environ, stdout=self.output, stderr=subprocess.STDOUT)
        try:
            self._wait_healthy(tmp)
        except BaseException:  # whatever stops the wait, no server is left running behind the test
            self.stop()
            raise

    def _wait_healthy(self, tmp):
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or listening while its worker still boots (slowly on a busy machine)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {(tmp / 'gunicorn.log').read_text()}")
            time.sleep(0.1)

    def calls(self):
        """What the fake CLI was started with, one dict per run."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def runs_ended(self, seconds=10.0):
        """Wait until the server has no CLI (no process below its workers) running; tell whether that happened."""
        deadline = time.monotonic() + seconds
        while True:
            tree = process_tree()
            if not any(set(descendants(worker, tree)) - {watchdog_of(worker, tree)} for worker in self.workers(tree)):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def workers(self, tree=None):
        """The pids of gunicorn's worker processes (its one worker, or none while it restarts one)."""
        tree = process_tree() if tree is None else tree
        return tree.get(self.proc.pid, [])

    def health(self):
        return requests.get(self.url + "/health", timeout=10).json()

    def call_with(self, text):
        """The one run whose prompt held text (tests use text of their own, so as to find their own run)."""
        found = [call for call in self.calls() if text in _text_of(call["prompt"])]
        assert len(found) == 1, f"{len(found)} runs had {text!r} in their prompt"
        return found[0]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.output.close()
