"""What is running: a process's children and tree, its memory (PSS) and CPU, sampled peaks."""
import os
import threading

SAMPLE = 0.1  # seconds between samples of live CLIs and memory


def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def tree(pid):
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children(current)
    return found


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


class Peaks:
    """Sample live CLIs and PSS in the background; keep the peaks."""

    def __init__(self, clis, processes):
        self.clis, self.processes = clis, processes  # functions returning pids
        self.cli_peak, self.pss_peak, self.stop = 0, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def _run(self):
        while not self.stop.wait(SAMPLE):
            self.cli_peak = max(self.cli_peak, len(self.clis()))
            self.pss_peak = max(self.pss_peak, sum(pss_kib(p) for root in self.processes() for p in tree(root)))


class ServerProcesses:
    def __init__(self, master):
        self.master = master

    def worker(self):
        return next(iter(children(self.master)), None)

    def clis(self):
        worker = self.worker()
        return [p for p in children(worker) if "reaper.py" not in cmdline(p)] if worker else []

    def all(self):
        return [self.master]


def cpu_seconds(pid, reaped_children=False):
    """User + system CPU seconds of a process (all its threads), and of its reaped children if asked."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15 if reaped_children else 13]) / os.sysconf("SC_CLK_TCK")


def cpu_of_tree(pid):
    """CPU seconds of a process, of its reaped children and of its live descendants."""
    total = 0.0
    for member in tree(pid):
        try:
            total += cpu_seconds(member, reaped_children=True)
        except OSError:  # ended meanwhile: its parent counts it once reaped
            pass
    return total
