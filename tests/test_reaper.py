"""No CLI outlives the process that started it: the watchdog, and the sweep when a server starts again."""
import os
import shutil
import signal
import subprocess
import sys
import time

from proxy import cli, reaper
from proxy.command import CliInput, prepare
from tests.support import ROOT, alive

# Stands in for a gunicorn worker: starts its watchdog, then two "CLIs" in sessions of their own,
# as cli.CliRun does. The registered one leaves its run directory with a child, so that only its
# process group tells it apart; the other stays in it but is never registered, as if the worker
# died the instant after starting it, so that only its directory tells it apart.
WORKER = f"""
import os, subprocess, sys, tempfile, time
sys.path.insert(0, {str(ROOT)!r})
from proxy import reaper
reaper.guard()
workdir = tempfile.mkdtemp(prefix=reaper.workdir_prefix())
registered = subprocess.Popen(["sh", "-c", "cd / && sleep 300 & cd / && exec sleep 300"], cwd=workdir,
                              start_new_session=True)
unregistered = subprocess.Popen(["sleep", "300"], cwd=workdir, start_new_session=True)
reaper.watch(registered.pid)
print(registered.pid, unregistered.pid, reaper._watchdog.pid, flush=True)
time.sleep(300)
"""


# A worker whose watchdog is killed while a CLI runs: the next CLI it registers starts another
# watchdog, which must be told of the first CLI too.
REPLACED = f"""
import os, signal, subprocess, sys, tempfile, time
sys.path.insert(0, {str(ROOT)!r})
from proxy import reaper
reaper.guard()
workdir = tempfile.mkdtemp(prefix=reaper.workdir_prefix())
first = subprocess.Popen(["sh", "-c", "cd / && exec sleep 300"], cwd=workdir, start_new_session=True)
reaper.watch(first.pid)
old = reaper._watchdog.pid
os.kill(old, signal.SIGKILL)
while os.waitid(os.P_PID, old, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
    time.sleep(0.01)
second = subprocess.Popen(["sh", "-c", "cd / && exec sleep 300"], cwd=workdir, start_new_session=True)
reaper.watch(second.pid)
print(first.pid, second.pid, old, reaper._watchdog.pid, flush=True)
time.sleep(300)
"""


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def wait_until(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def ended_pid():
    """The pid of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_run_directory_is_named_for_its_process(settings):
    workdir, _, _, _ = prepare(settings, CliInput(model="haiku", message=({"type": "text", "text": "hi"},)))
    shutil.rmtree(workdir)
    assert os.path.basename(workdir).startswith(f"claude-proxy-{os.getpid()}-")


def test_a_killed_process_leaves_no_cli_and_no_directory(tmp_path):
    worker = subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    registered, unregistered, watchdog = map(int, worker.stdout.readline().split())
    assert wait_until(lambda: children(registered))
    [child] = children(registered)
    # Both leave the run directory, each once its shell has run its "cd /": wait for both, not only the first.
    assert wait_until(lambda: os.readlink(f"/proc/{registered}/cwd") == "/")
    assert wait_until(lambda: os.readlink(f"/proc/{child}/cwd") == "/")
    assert [p.name for p in tmp_path.iterdir()][0].startswith(f"claude-proxy-{worker.pid}-")
    started = (registered, child, unregistered, watchdog)
    try:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert wait_until(lambda: not any(alive(p) for p in started))
        assert list(tmp_path.iterdir()) == []
    finally:
        for pid in filter(alive, started):  # only when the test failed
            os.kill(pid, signal.SIGKILL)


def test_sweep_ends_what_dead_processes_left_and_nothing_else(tmp_path):
    gone = ended_pid()
    left = tmp_path / f"claude-proxy-{gone}-abcd1234"
    (left / "cwd").mkdir(parents=True)
    orphan = subprocess.Popen(["sleep", "300"], cwd=left / "cwd", start_new_session=True)
    mine = tmp_path / f"claude-proxy-{os.getpid()}-efgh5678"  # a live process's
    unnamed = tmp_path / "claude-proxy-ijkl9012"  # an older proxy's, whose owner cannot be told
    mine.mkdir(), unnamed.mkdir()
    try:
        assert reaper.sweep(str(tmp_path)) == [gone]
        assert orphan.wait(timeout=15) == -signal.SIGKILL
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, unnamed.name])
    finally:
        if orphan.poll() is None:
            orphan.kill()


def test_a_watchdog_that_died_is_replaced_and_told_of_every_running_cli(tmp_path):
    worker = subprocess.Popen([sys.executable, "-c", REPLACED], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    first, second, old, new = map(int, worker.stdout.readline().split())
    started = (first, second, new)
    try:
        assert new != old and alive(new)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert wait_until(lambda: not any(alive(p) for p in started))  # both left their directory
    finally:
        for pid in filter(alive, started):  # only when the test failed
            os.kill(pid, signal.SIGKILL)
