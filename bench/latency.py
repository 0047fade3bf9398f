"""Measure the latency the proxy adds over running the Claude CLI directly: per request and per streamed delta.

Usage: python bench/latency.py [--runs N]

Both sides run the real CLI (the pinned version) against a StubUpstream served from this process.
"Direct" runs exactly the argv, environment and files the proxy builds for the same request;
"proxy" sends that request to `gunicorn proxy:app`. Runs alternate direct/proxy after warm-ups,
so that machine noise falls on both alike. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harness.stub_upstream import Reply, _Handler  # noqa: E402
from proxy import command, seeds  # noqa: E402
from proxy.api.openai_chat_input import to_cli_input  # noqa: E402
from served import Proxy, free_port, gunicorn  # noqa: E402  (bench/served.py)
from stats import median, median_ci, paired_table, pct, table  # noqa: E402  (bench/stats.py)
from upstream import CLI_VERSION, against_stub  # noqa: E402  (bench/upstream.py)
from proxy.config import Settings  # noqa: E402

WARMUP = 3
PROMPT = "Say hello."
STREAM_DELTAS, STREAM_GAP = 20, 0.05
STREAM_TEXT = " ".join(f"d{i:02d}" for i in range(STREAM_DELTAS))  # one distinct word per delta
# Variables that would point the CLI at a real login instead of the stub.

# (monotonic time, text) of each text delta the stub has written to its socket, in order, and the
# time it wrote each message_stop (the last event of an answer).
SENT = []
STOPPED = []
_stub_event = _Handler._event


def _recording_event(self, data, name=None):
    # Taken before the write: taken after it, the reader could run first and see a negative latency.
    sent = time.monotonic()
    _stub_event(self, data, name)
    delta = data.get("delta") or {}
    if data.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
        SENT.append((sent, delta["text"]))
    elif data.get("type") == "message_stop":
        STOPPED.append(sent)


_Handler._event = _recording_event  # in this process only: the stub runs here, so clocks agree


# --- the two ways of answering ----------------------------------------------------------------

class Direct:
    """Run the CLI as the proxy would for a request body, without the proxy."""

    def __init__(self, settings, body):
        self.settings = settings
        self.cli_input, _ = to_cli_input(body, settings)
        self.seeds = seeds.capture(settings)  # as the server does at start-up

    def run(self):
        """Return (spawn time, exit time, [(arrival time, stdout line)]) of one run."""
        workdir, cwd, argv, env = command.prepare(self.settings, self.cli_input, self.seeds, "bench-direct-")
        try:
            return self._spawn(argv, env, cwd)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _spawn(self, argv, env, cwd):
        lines = []
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=cwd, env=env, start_new_session=True)
        try:
            drain = threading.Thread(target=proc.stderr.read, daemon=True)
            drain.start()
            proc.stdin.write(command.stdin_bytes(self.cli_input))
            proc.stdin.close()
            for line in proc.stdout:
                lines.append((time.monotonic(), line))
            proc.wait()
            exited = time.monotonic()
            drain.join()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"direct CLI run exited {proc.returncode}")
        return start, exited, lines

    def deltas(self):
        """Return ([(arrival time, text)] of each text_delta stream_event line, exit time)."""
        _, exited, lines = self.run()
        found = []
        for arrived, line in lines:
            event = json.loads(line) if line.startswith(b"{") else {}
            delta = (event.get("event") or {}).get("delta") or {}
            if event.get("type") == "stream_event" and delta.get("type") == "text_delta":
                found.append((arrived, delta["text"]))
        return found, exited


# --- measurements -----------------------------------------------------------------------------

def interleaved(runs, direct, proxy):
    """Run WARMUP pairs, then `runs` direct/proxy pairs; return (warm-up pairs, measured pairs)."""
    warm = [(direct(), proxy()) for _ in range(WARMUP)]
    return warm, [(direct(), proxy()) for _ in range(runs)]


def request_latency(runs, direct, proxy):
    exit_lags, to_result = [], []

    def run_direct():
        STOPPED.clear()
        start, exited, lines = direct.run()
        results = [t for t, line in lines
                   if b'"type":"result"' in line and json.loads(line).get("type") == "result"]
        exit_lags.append((exited - results[0]) * 1000)
        to_result.append((results[0] - start) * 1000)
        return (exited - start) * 1000, (exited - STOPPED[-1]) * 1000

    def run_proxy():
        STOPPED.clear()
        start, done = proxy.run()
        return (done - start) * 1000, (done - STOPPED[-1]) * 1000

    warm, pairs = interleaved(runs, run_direct, run_proxy)
    d, p = [a for (a, _), _ in pairs], [b for _, (b, _) in pairs]
    print(f"\n1. Added latency per request (non-streamed, {runs} interleaved pairs after {WARMUP} warm-ups each)")
    print("   warm-ups, not counted (ms): direct " + " ".join(f"{a:.0f}" for (a, _), _ in warm)
          + "; proxy " + " ".join(f"{b:.0f}" for _, (b, _) in warm))
    table({"direct": d, "proxy": p}, "ms", 1)
    paired = [b - a for a, b in zip(d, p)]
    print(f"   difference of medians: {median(p) - median(d):+.1f} ms   ratio of medians: {median(p) / median(d):.3f}"
          f"   (target: <= 10 ms, <= 1.03)")
    low, high = median_ci(paired)
    print(f"   paired median of (proxy_i - direct_i): {median(paired):+.1f} ms   "
          f"(95% CI {low:+.1f} .. {high:+.1f}; p10 {pct(paired, 10):+.1f}, p90 {pct(paired, 90):+.1f})")
    tail_d, tail_p = [a for (_, a), _ in pairs], [b for _, (_, b) in pairs]
    print("   the same runs from the stub's last byte (message_stop) to the end (direct: CLI exit; proxy: body read),")
    print("   which leaves out the CLI's start-up and most of its noise:")
    paired_table(tail_d, tail_p, "added after the answer")
    lags = exit_lags[-runs:]
    print(f"   the CLI itself exits {median(lags):.1f} ms (median; p90 {pct(lags, 90):.1f}) after printing its "
          "result line; the proxy answers at that line and reaps the CLI afterwards")
    # The strictest comparison: the direct run is done once the CLI has printed its result line.
    d_result = to_result[-runs:]
    print("   direct timed from spawn to its result line (the answer is whole there), against the proxy:")
    table({"direct": d_result, "proxy": p}, "ms", 1)
    paired = [b - a for a, b in zip(d_result, p)]
    low, high = median_ci(paired)
    print(f"   difference of medians: {median(p) - median(d_result):+.1f} ms   ratio of medians: "
          f"{median(p) / median(d_result):.3f}   paired median: {median(paired):+.1f} ms "
          f"(95% CI {low:+.1f} .. {high:+.1f})")


def delta_latency(runs, stub, direct, proxy):
    reply = Reply(text=STREAM_TEXT, chunks=STREAM_DELTAS, delay=STREAM_GAP)

    def measured(side):
        def run():
            SENT.clear()
            stub.expect(reply)
            arrived, ended = side()
            return per_delta(list(SENT), arrived), (ended - SENT[-1][0]) * 1000
        return run

    _, pairs = interleaved(runs, measured(direct.deltas), measured(proxy.deltas))
    d = [x for (a, _), _ in pairs for x in a]
    p = [x for _, (b, _) in pairs for x in b]
    print(f"\n2. Added delay per forwarded delta ({STREAM_DELTAS} deltas {STREAM_GAP * 1000:.0f} ms apart, "
          f"{runs} interleaved streamed pairs after {WARMUP} warm-ups each)")
    print("   per-delta latency = arrival at the reader - time the stub wrote that delta")
    table({"direct": d, "proxy": p}, f"ms, over {len(d)} deltas each", 2)
    print(f"   added (difference of medians): {median(p) - median(d):+.2f} ms   (target: < 5 ms)")
    paired = [median(b) - median(a) for (a, _), (b, _) in pairs]
    first = [b[0] - a[0] for (a, _), (b, _) in pairs]
    low, high = median_ci(paired)
    print(f"   paired median over runs of (run median proxy - run median direct): {median(paired):+.2f} ms "
          f"(95% CI {low:+.2f} .. {high:+.2f}); "
          f"first delta only: {median(first):+.2f} ms")
    ends_d, ends_p = [a for (_, a), _ in pairs], [b for _, (_, b) in pairs]
    print("   end of stream after the last delta was written (direct: CLI exit; proxy: [DONE] arrives):")
    paired_table(ends_d, ends_p, "added at the end of the stream")


def per_delta(sent, arrived):
    """Return the ms between the stub's write and the reader's arrival of each delta, matched in order."""
    texts_sent, texts_arrived = [t for _, t in sent], [t for _, t in arrived]
    if texts_sent != texts_arrived or len(sent) != STREAM_DELTAS:
        raise RuntimeError(f"deltas do not match: sent {texts_sent}, arrived {texts_arrived}")
    return [(a - s) * 1000 for (s, _), (a, _) in zip(sent, arrived)]


# --- setup ------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="measured direct/proxy pairs per measurement")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    began = time.monotonic()
    try:
        with against_stub() as (claude, stub, home):
            port = free_port()
            # Cold against cold: no spares here (bench/warm.py measures them).
            server_env = dict(os.environ, CLAUDE_PATH=claude, PORT=str(port), HOST="127.0.0.1", WARM_SPARES="0",
                              WARM_CONVERSATIONS="0")
            settings = Settings.from_env(server_env)  # what the server will read
            body = {"model": settings.model, "messages": [{"role": "user", "content": PROMPT}]}
            direct = Direct(settings, body)
            print(f"Claude CLI {CLI_VERSION} at {claude}; stub at {stub.url}; proxy on port {port}; "
                  f"{os.cpu_count()} CPUs")
            with gunicorn(server_env, port, os.path.join(home, "gunicorn.log")):
                proxy = Proxy(port, body)
                try:
                    request_latency(args.runs, direct, proxy)
                    delta_latency(args.runs, stub, direct, proxy)
                finally:
                    proxy.close()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(f"\n(total {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
