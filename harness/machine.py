"""How busy the machine was while recordings were made, so that a report can say when timings compare.

The recorder notes, in each recording, the CPUs and load average before the run and the CLI's
own wall and CPU time. The times a recording holds are those of its machine: on a busy one (load
above one per CPU, processes waiting for a core) a CLI that needs 0.3 s of CPU takes seconds to
start. The upgrade diff compares structure, never times; this says whether times could be compared.
"""
from __future__ import annotations

import os
import resource
import statistics

BUSY = 1.0  # load per CPU from which runnable processes wait for a core


def snapshot():
    """Return the CPUs and the 1, 5 and 15 minute load averages now."""
    return {"cpus": os.cpu_count() or 1, "load": [round(x, 2) for x in os.getloadavg()]}


def children_cpu():
    """Return the CPU seconds (user and system) of the children this process has reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_per_cpu(note):
    """Return the 1-minute load per CPU of a snapshot or recording note."""
    return note["load"][0] / note["cpus"]


def describe(note):
    """Return e.g. "load 3.10 on 2 CPUs (1.55 per CPU, busy)" for a snapshot."""
    per = load_per_cpu(note)
    return f"load {note['load'][0]:.2f} on {note['cpus']} CPUs ({per:.2f} per CPU, {'busy' if per >= BUSY else 'quiet'})"


def summary(recordings):
    """Return what the machine notes of a version's recordings say, or None if they have none.

    The figures are medians over the scenarios: the load per CPU before each run, the time to the
    CLI's first stdout line, and the CLI's CPU time.
    """
    notes = [(r["machine"], r["stdout"]) for r in recordings.values() if r.get("machine")]
    if not notes:
        return None
    firsts = [stdout[0]["t"] for _, stdout in notes if stdout]
    return {
        "recordings": len(notes),
        "cpus": statistics.median(n["cpus"] for n, _ in notes),
        "load": statistics.median(n["load"][0] for n, _ in notes),
        "load_per_cpu": statistics.median(load_per_cpu(n) for n, _ in notes),
        "first_line": statistics.median(firsts) if firsts else None,
        "cli_cpu": statistics.median(n["cli_cpu_s"] for n, _ in notes),
    }


def timings(old_version, old, new_version, new):
    """Return the Markdown lines saying how two versions' recordings were timed, and whether that compares."""
    lines = ["## Timings", "",
             "The diff compares structure, not timings: a recording's times are those of the machine that made it.",
             ""]
    reasons = []
    for version, recordings in ((old_version, old), (new_version, new)):
        facts = summary(recordings)
        if facts is None:
            lines.append(f"- {version}: no notes of the machine's load (recorded before harness/record.py "
                         "noted it)")
            reasons.append(f"{version} has no load notes")
            continue
        busy = facts["load_per_cpu"] >= BUSY
        first = "-" if facts["first_line"] is None else f"{facts['first_line']:.2f} s"
        lines.append(f"- {version}: median load {facts['load']:.2f} on {facts['cpus']:g} CPUs "
                     f"({facts['load_per_cpu']:.2f} per CPU, {'busy' if busy else 'quiet'}); the CLI's first "
                     f"line after {first}, {facts['cli_cpu']:.2f} s of CPU per run (medians of "
                     f"{facts['recordings']} recordings)")
        if busy:
            reasons.append(f"{version} was recorded on a busy machine")
    lines += ["", "Timings are not comparable: " + "; ".join(reasons) + "." if reasons else
              "Timings are comparable: both were recorded on a quiet machine.", ""]
    return lines
