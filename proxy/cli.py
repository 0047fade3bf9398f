"""Own the Claude CLI subprocess: start it as command.py describes, read it, deadline and kill.

Nothing else in the proxy imports subprocess. Every run is its own session (process group), in
its own private directory, and whatever ends it, close() reaps the whole group.
"""
from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import threading
import time

from .command import INHERITED_ENV, prepare, stdin_bytes
from .errors import CliUnavailable, Timeout

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
EOF = object()


class CliRun:
    """One running CLI. Send it its input, iterate events(); always close(), which reaps the whole group.

    Started with its input (the default), it runs at once. Started without (a spare), it waits
    for send(): what it was started with (`spawned`) fixes only what the CLI reads at start-up.
    """

    def __init__(self, settings, cli_input, seeds=None, start_input=True, extra_env=None, deadline=None):
        self.spawned = cli_input
        self.deadline = None  # set when the CLI is sent its input (a time.monotonic() moment)
        self.started = time.monotonic()
        self.workdir, self.cwd, argv, env = prepare(settings, cli_input, seeds, extra_env=extra_env)
        self.lines = queue.Queue()
        self._early = []  # lines read before events() was asked for them
        self.stderr_chunks = []
        self.other_output = []  # stdout lines that are not JSON events
        self.timed_out = False
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, env=env, start_new_session=True)
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise CliUnavailable(
                f"Cannot run the Claude CLI at CLAUDE_PATH={settings.claude_path!r}: {exc.strerror or exc}. "
                "Install it (npm install -g @anthropic-ai/claude-code) or set CLAUDE_PATH.") from None
        # Only a group this process created is ever signalled as a group.
        self.group = self.proc.pid if _is_own_child(self.proc.pid) else None
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()
        if start_input:
            self.send(settings, cli_input, deadline)

    def send(self, settings, cli_input, deadline=None):
        """Give the CLI its input (control requests for what differs from `spawned`, then the user
        message) and close its stdin; it is killed at deadline, by default CLAUDE_TIMEOUT from now."""
        self.deadline = time.monotonic() + settings.timeout if deadline is None else deadline
        feeder = threading.Thread(target=self._feed_stdin, args=(stdin_bytes(cli_input, self.spawned),), daemon=True)
        self._threads.append(feeder)
        feeder.start()

    @property
    def alive(self):
        return self.proc.poll() is None

    def _feed_stdin(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the CLI ended before reading its input; its exit status tells why

    def _read_stdout(self):
        try:
            for line in self.proc.stdout:
                self.lines.put(line)
        finally:
            self.lines.put(EOF)

    def _read_stderr(self):
        for chunk in self.proc.stderr:
            self.stderr_chunks.append(chunk)

    def control_errors(self, request_ids, timeout):
        """Wait (up to timeout seconds) for the CLI's answers to the control requests sent; return the errors.

        What the CLI printed meanwhile is kept for events(). A CLI that ended or did not answer in
        time counts as an error.
        """
        waiting, errors, until = set(request_ids), [], time.monotonic() + timeout
        while waiting:
            try:
                line = self.lines.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                return errors + [f"no answer to {', '.join(sorted(waiting))} in {timeout:.0f} s"]
            self._early.append(line)
            if line is EOF:
                return errors + ["the CLI ended"]
            event = parse_line(line) or {}
            response = event.get("response") or {}
            if event.get("type") == "control_response" and response.get("request_id") in waiting:
                waiting.discard(response["request_id"])
                if response.get("subtype") == "error":
                    errors.append(str(response.get("error")))
        return errors

    def events(self, idle=None):
        """Yield each JSON event the CLI prints, and None after `idle` silent seconds (if given).

        Raises Timeout at the deadline, after killing the CLI.
        """
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                self.kill()
                raise Timeout()
            try:
                line = self._early.pop(0) if self._early else self.lines.get(
                    timeout=min(remaining, idle) if idle else remaining)
            except queue.Empty:
                if idle:
                    yield None
                continue
            if line is EOF:
                return
            event = parse_line(line)
            if event is not None:
                yield event
            elif line.strip():
                self.other_output.append(line.decode("utf-8", "replace").rstrip())

    @property
    def stderr(self):
        return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def wait(self):
        """Return the exit status once the CLI has ended (killing it at the deadline)."""
        if not self._exited_by(self.deadline):
            self.timed_out = True
            self.kill()
            raise Timeout()
        return self.proc.returncode

    def _exited_by(self, moment):
        """Wait until the CLI exits or the monotonic clock reaches moment; tell whether it exited."""
        exited = _exit_watch(self.group)
        try:
            pause = 0.0005
            while self.proc.poll() is None:
                remaining = moment - time.monotonic()
                if remaining <= 0:
                    return False
                if exited is not None:
                    select.select([exited], [], [], remaining)  # readable once the CLI has exited
                else:
                    time.sleep(min(pause, remaining))
                    pause = min(pause * 2, 0.02)
            return True
        finally:
            if exited is not None:
                os.close(exited)

    def kill(self):
        """End the CLI's whole process group: SIGTERM, then SIGKILL after a grace period."""
        if self.proc.poll() is None:
            _signal_group(self.proc, self.group, signal.SIGTERM)
            try:
                self.proc.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                pass
        # Children the CLI left behind share its group even after the leader is gone.
        _signal_group(self.proc, self.group, signal.SIGKILL)
        self.proc.wait()

    def close(self, grace=0.0):
        """Reap the CLI and its group, and remove the private working directory.

        A CLI that has printed its result is finishing on its own: grace gives it that many
        seconds to exit cleanly before it is killed.
        """
        try:
            if grace:
                self._exited_by(time.monotonic() + grace)
            self.kill()
            for thread in self._threads:
                thread.join(timeout=1)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def parse_line(line):
    """Return a stdout line of the CLI as its JSON event (a dict), or None when it is not one."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _exit_watch(pid):
    """Return a pidfd that becomes readable when our child pid exits, or None where there is none.

    It lets wait() wake the moment the CLI exits instead of polling (Linux 5.3 and later).
    """
    if not pid or not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _is_own_child(pid):
    """Tell whether pid is a child of this process (without reaping it)."""
    if pid <= 0:
        return False
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return True
    except ChildProcessError:
        return False


def _signal_group(proc, group, sig):
    # start_new_session made the CLI the leader of its own group, whose id is its pid; the group
    # outlives the leader, so children the CLI left behind are reached too.
    try:
        if group:
            os.killpg(group, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_once(argv, env, cwd, stdin, timeout):
    """Run a CLI to its end (killing its group at the timeout); return (exit status, stdout, stderr)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc, proc.pid if _is_own_child(proc.pid) else None, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def cli_version(settings):
    """Return the CLI's own version line (`claude --version`), or None if it cannot be run."""
    try:
        done = subprocess.run([settings.claude_path, "--version"], capture_output=True, timeout=30,
                              env={k: os.environ[k] for k in INHERITED_ENV if k in os.environ},
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.decode("utf-8", "replace").strip()
    return text.split()[0] if done.returncode == 0 and text else None
