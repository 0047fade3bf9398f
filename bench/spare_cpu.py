"""What a CLI started ahead of its request costs in CPU: its own CPU up to the result when the prompt
is written at once (a cold run) and when it is written after the CLI has waited (a spare), with the
runtime's garbage collection timer as the proxy runs it (off) and as the CLI's default (on).

Usage: python bench/spare_cpu.py [--rounds N] [--waits 3,6]

The real pinned CLI runs against an in-process StubUpstream with the argv, files, environment and
stdin the proxy builds for a single-turn request (proxy.command), one CLI at a time, the variants
in turn in each round. CPU is the CLI process's user + system time (all its threads) read from
/proc when its result line arrives, so what it would do after answering is left out on both sides.
Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from proxy import command, conversation, seeds  # noqa: E402
from proxy.api.openai_chat_input import to_ask  # noqa: E402
from proxy.config import Settings  # noqa: E402
from processes import cpu_seconds  # noqa: E402  (bench/processes.py)
from stats import median, pct  # noqa: E402  (bench/stats.py)
from upstream import CLI_VERSION, against_stub  # noqa: E402  (bench/upstream.py)

BODY = {"model": "haiku", "messages": [{"role": "user", "content": "Say hello."}]}
TIMER = {"off (the proxy)": {}, "on (default)": {"BUN_GC_TIMER_DISABLE": ""}}


def spread(values, p):
    return pct(values, p) if len(values) > 1 else values[0]


def run(settings, captured, wait, env_change):
    """Start the CLI, write its prompt after wait seconds; return (its CPU at the result, bind to result)."""
    cli_input = conversation.to_cli_input(to_ask(BODY, settings), settings)
    workdir, cwd, argv, env = command.prepare(settings, cli_input, captured, "bench-spare-")
    env.update(env_change)
    env = {k: v for k, v in env.items() if v}  # "" unsets: the runtime reads a set variable as on
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                cwd=cwd, env=env, start_new_session=True)
        time.sleep(wait)
        written = time.monotonic()
        proc.stdin.write(command.stdin_bytes(cli_input))
        proc.stdin.flush()
        for line in proc.stdout:
            if b'"result"' in line and json.loads(line).get("type") == "result":
                break
        else:
            raise RuntimeError(f"the CLI ended without a result (exit status {proc.wait()})")
        cpu, took = cpu_seconds(proc.pid), time.monotonic() - written
        proc.stdin.close()
        proc.wait()
        return cpu, took
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--waits", default="3,6", help="seconds a spare waits for its prompt, comma-separated")
    args = parser.parse_args(argv)
    waits = [0.0] + [float(w) for w in args.waits.split(",")]
    with against_stub() as (claude, _, _):
        settings = Settings(claude_path=claude)
        captured = seeds.capture(settings)
        print(f"Claude CLI {CLI_VERSION}; {os.cpu_count()} CPUs; {args.rounds} rounds; "
              f"load before: {os.getloadavg()[0]:.2f}")
        results = {}
        for _ in range(args.rounds):
            for wait in waits:
                for timer, env_change in TIMER.items():
                    results.setdefault((timer, wait), []).append(run(settings, captured, wait, env_change))
        print(f"load after: {os.getloadavg()[0]:.2f}\n")
        print(f"   {'GC timer':16} {'prompt':>14} {'CPU-s median':>13} {'p10':>6} {'p90':>6} {'vs at once':>11}"
              f" {'prompt to result ms':>20}")
        for timer in TIMER:
            cold = median([cpu for cpu, _ in results[(timer, 0.0)]])
            for wait in waits:
                cpus = [cpu for cpu, _ in results[(timer, wait)]]
                label = "at once" if not wait else f"after {wait:g} s"
                print(f"   {timer:16} {label:>14} {median(cpus):13.2f} {spread(cpus, 10):6.2f} {spread(cpus, 90):6.2f}"
                      f" {median(cpus) / cold:11.2f} {median([t for _, t in results[(timer, wait)]]) * 1000:20.0f}")


if __name__ == "__main__":
    sys.exit(main())
