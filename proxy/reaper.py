"""No CLI outlives the process that started it, however that process ends.

Each CLI runs in a session of its own, so that the proxy can end its whole process group; but then
nothing ends it when the gunicorn worker that started it dies (SIGKILL, the OOM killer, a crash): it
would run on under pid 1, still connected upstream. PR_SET_PDEATHSIG fires when the *thread* that
forked ends, not the process, and preexec_fn is unsafe in a threaded process. So each process that
starts CLIs also starts one small watchdog (this file, run as a script) holding the read end of a
pipe from it, and tells it the process group of each CLI it starts and reaps. When the pipe closes,
the process is gone, however it ended: the watchdog kills the groups still registered and every
process whose working directory lies in one of the dead process's private run directories (which
catches a CLI started the instant before it was registered), removes those directories, and exits.

Private directories are named for the process that made them (workdir_prefix), so that a server
starting again can end what a dead process left when its watchdog died too (sweep).

Only the standard library is imported: the watchdog runs this file as a script (python -I).
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import sys
import tempfile
import threading

PREFIX = "claude-proxy-"
OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")


def workdir_prefix(pid=None):
    """How the private directories of a process's CLI runs are named: PREFIX, its pid, a dash."""
    return f"{PREFIX}{os.getpid() if pid is None else pid}-"


# --- the side of the process that starts CLIs ---------------------------------------------------

class Watchdog:
    """This process's watchdog: started once, told of each CLI's process group."""

    def __init__(self, groups=()):
        self.owner = os.getpid()
        self.groups = set(groups)
        read, self.pipe = os.pipe()
        try:
            # posix_spawn, not subprocess: this is not a CLI, and a test's fake of subprocess must not
            # catch it. Its own session keeps it out of signals sent to the server's process group.
            self.pid = os.posix_spawn(sys.executable, [sys.executable, "-I", os.path.abspath(__file__),
                                                       str(self.owner), tempfile.gettempdir()],
                                      os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, read, 0)],
                                      setsid=True, setsigmask=())
        finally:
            os.close(read)
        for group in self.groups:
            self._send("+", group)

    def running(self):
        """True if the watchdog still runs and is this process's (not a forked parent's)."""
        if self.owner != os.getpid():
            return False
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def _send(self, sign, group):
        os.write(self.pipe, f"{sign}{group}\n".encode())

    def close(self):
        os.close(self.pipe)


_lock = threading.Lock()
_watchdog = None


def guard():
    """Make sure this process's watchdog runs (start it if not); call before starting a CLI."""
    with _lock:
        _ensure()


def watch(group):
    """Have the watchdog kill this process group should this process die before unwatch(group)."""
    _tell("+", group)


def unwatch(group):
    """The CLI of this group has been reaped."""
    _tell("-", group)


def _ensure(restart=False):
    global _watchdog
    if _watchdog is not None and _watchdog.running() and not restart:
        return _watchdog
    groups = ()
    if _watchdog is not None:
        groups = _watchdog.groups if _watchdog.owner == os.getpid() else ()
        _watchdog.close()  # a forked child drops its parent's pipe, so that the parent's death shows
    _watchdog = Watchdog(groups)
    return _watchdog


def _tell(sign, group):
    if not group:
        return
    with _lock:
        watchdog = _ensure()
        (watchdog.groups.add if sign == "+" else watchdog.groups.discard)(group)
        try:
            watchdog._send(sign, group)
        except OSError:  # the watchdog died: another one starts, told of every group
            _ensure(restart=True)


def sweep(tmpdir=None):
    """End what processes that are gone left behind: CLIs still running in their directories, and the directories."""
    tmpdir = tmpdir or tempfile.gettempdir()
    try:
        names = os.listdir(tmpdir)
    except OSError:
        return []
    dead = sorted({int(m.group(1)) for m in map(OWNED.match, names) if m and not _alive(int(m.group(1)))})
    for owner in dead:
        end(tmpdir, owner)
    return dead


# --- the watchdog -------------------------------------------------------------------------------

def end(tmpdir, owner, groups=()):
    """Kill the given groups and every process in owner's run directories; remove those directories."""
    for group in groups:
        _kill_group(group)
    prefix = os.path.join(tmpdir, workdir_prefix(owner))
    for pid in _processes_in(prefix):
        _kill_group(pid) if _is_group_leader(pid) else _kill(pid)
    try:
        names = os.listdir(tmpdir)
    except OSError:
        return
    for name in names:
        if name.startswith(workdir_prefix(owner)):
            shutil.rmtree(os.path.join(tmpdir, name), ignore_errors=True)


def main(argv):
    """Watch the process that started this one; when it is gone, end what it started."""
    owner, tmpdir = int(argv[0]), argv[1]
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # what the worker let through, its listening socket among them
    groups, pending = set(), b""
    while True:
        if select.select([0], [], [], 1.0)[0]:
            data = os.read(0, 4096)
            if not data:
                break  # the pipe closed: the process is gone
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if line[1:].isdigit():
                    (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))
        elif os.getppid() != owner:
            break  # gone, though a process it forked still holds the pipe
    end(tmpdir, owner, groups)


def _processes_in(prefix):
    """Pids of the processes whose working directory lies in a directory starting with prefix."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd").startswith(prefix):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _alive(pid):
    """True if pid runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _is_group_leader(pid):
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _kill_group(group):
    if group > 1 and group != os.getpgrp():
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
