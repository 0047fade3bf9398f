"""Serve under load: the proxy beside the same CLI run directly, at 1, 4, 16 and 64 clients, then in bursts.

Usage: python bench/load.py [--levels 1,4,16,64] [--requests N] [--burst-stream 64] [--burst-plain 200]
                            [--sdk-clients 100] [--max-concurrency N]

Both sides run the real CLI (the pinned version) against a StubUpstream served from this process.
"Direct" runs the argv, environment, files and stdin proxy.command gives, N at once, each client starting its
next run when its last has exited. "Server" sends the same request to `gunicorn proxy:app` from N
clients at once, plain and streamed; a client refused with 503 waits Retry-After and asks again.
For each it prints throughput (answers per second from the first request to the last answer),
p50/p95 latency and time to first token, refusals, the peak of live CLIs and the peak memory (PSS:
the CLIs, and for the server its gunicorn processes and watchdog too), sampled every 0.1 s.

Then three bursts, sent at once: streamed requests (each completes, or is refused within 2 s);
plain requests (no 5xx but the capacity refusal); and clients of the `openai` SDK with its own
retries, which honour Retry-After (all must get answers; their goodput is set beside the best
direct throughput over every concurrency measured, the machine's core count included, measured
again at that concurrency just after the burst, the better of the two counting).
Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from proxy.config import Settings, cores  # noqa: E402
from load_sides import Direct, Result, ask  # noqa: E402  (bench/load_sides.py)
from processes import Peaks, ServerProcesses  # noqa: E402  (bench/processes.py)
from served import free_port, gunicorn  # noqa: E402  (bench/served.py)
from stats import pct  # noqa: E402  (bench/stats.py)
from upstream import CLI_VERSION, against_stub  # noqa: E402  (bench/upstream.py)

PROMPT = "Say hello."
MIB_PER_CLI = 250  # memory a direct CLI is allowed for, when checking that the machine has room
REFUSED_WITHIN = 2.0  # seconds: a refusal must come this fast


def closed_loop(clients, total, one):
    """`clients` threads run `total` requests between them; a refused one waits Retry-After and asks again.

    Returns (answered results, refusals, failures, seconds from the first request to the last answer).
    """
    left, lock = [total], threading.Lock()
    answered, refused, failed = [], [0], []

    def client():
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            while True:
                result = one()
                if result.status == 503 and result.retry_after:
                    with lock:
                        refused[0] += 1
                    time.sleep(int(result.retry_after))
                    continue
                with lock:
                    (answered if result.answered else failed).append(result)
                break

    began = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last = max((r.end for r in answered), default=time.monotonic())
    return answered, refused[0], failed, last - began


def figures(answered, refused, failed, seconds, peaks):
    latency = [(r.end - r.start) * 1000 for r in answered]
    ttft = [(r.first - r.start) * 1000 for r in answered if r.first]
    return {"answers": len(answered), "per_s": len(answered) / seconds if seconds else 0.0,
            "p50": pct(latency, 50) if len(latency) > 1 else (latency or [0])[0],
            "p95": pct(latency, 95) if len(latency) > 1 else (latency or [0])[0],
            "ttft50": pct(ttft, 50) if len(ttft) > 1 else (ttft or [float("nan")])[0],
            "ttft95": pct(ttft, 95) if len(ttft) > 1 else (ttft or [float("nan")])[0],
            "refused": refused, "failed": len(failed), "clis": peaks.cli_peak, "pss": peaks.pss_peak / 1024}


ROW = "   {:<14} {:>7} {:>8.2f} {:>8.0f} {:>8.0f} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8.0f}"
HEAD = "   {:<14} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8}".format(
    "", "answers", "per s", "p50 ms", "p95 ms", "ttft50", "ttft95", "refused", "failed", "CLIs", "PSS MiB")


def print_row(name, f):
    ms = lambda value: "-" if value != value else f"{value:.0f}"  # noqa: E731  (NaN: a plain answer has no first token)
    print(ROW.format(name, f["answers"], f["per_s"], f["p50"], f["p95"], ms(f["ttft50"]), ms(f["ttft95"]),
                     f["refused"], f["failed"], f["clis"], f["pss"]))


def room_for(clis):
    """True when the machine has the memory for that many direct CLIs at once, with 2 GiB to spare."""
    with open("/proc/meminfo") as f:
        available = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) // 1024
    return available >= clis * MIB_PER_CLI + 2048


def direct_level(direct, clients, total):
    with Peaks(direct.clis, direct.clis) as peaks:
        result = closed_loop(clients, total, direct.one)
    return figures(*result, peaks)


def server_level(server, port, body, clients, total, stream):
    with Peaks(server.clis, server.all) as peaks:
        result = closed_loop(clients, total, lambda: ask(port, body, stream))
    return figures(*result, peaks)


# --- bursts -------------------------------------------------------------------------------------

def at_once(count, one):
    """Run `one` in `count` threads released together; return their results and the time they were released."""
    barrier, results = threading.Barrier(count + 1), [None] * count

    def run(i):
        barrier.wait()
        results[i] = one()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    released = time.monotonic()
    for thread in threads:
        thread.join()
    return results, released


def burst(server, port, body, count, stream, limit):
    with Peaks(server.clis, server.all) as peaks:
        results, released = at_once(count, lambda: ask(port, body, stream))
    statuses = collections.Counter(f"{r.status} {r.code or ''}".strip() for r in results)
    refusals = [r.end - r.start for r in results if r.status == 503 and r.code == "server_at_capacity"]
    answered = [r for r in results if r.answered]
    other_5xx = [r for r in results if isinstance(r.status, int) and r.status >= 500 and r.code != "server_at_capacity"]
    lost = [r for r in results if r.status == "lost"]
    last = max((r.end for r in answered), default=released)
    print(f"   statuses: {dict(statuses)}")
    print(f"   answered {len(answered)}, refused {len(refusals)} (slowest refusal "
          f"{max(refusals, default=0) * 1000:.0f} ms), lost {len(lost)}, other 5xx {len(other_5xx)}; "
          f"last answer {last - released:.1f} s after the burst")
    print(f"   peak live CLIs {peaks.cli_peak} (limit {limit}), peak PSS {peaks.pss_peak / 1024:.0f} MiB")
    return answered, refusals, lost, other_5xx, peaks


def sdk_burst(port, count, model):
    import openai

    clients = [openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused") for _ in range(count)]

    def one(i=[0], lock=threading.Lock()):
        with lock:
            client = clients[i[0]]
            i[0] += 1
        result = Result(time.monotonic())
        try:
            answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
            result.status = 200 if answer.choices[0].message.content else "empty"
        except openai.APIError as error:
            result.status, result.code = getattr(error, "status_code", "error"), type(error).__name__
        result.end = time.monotonic()
        return result

    results, released = at_once(count, one)
    answered = [r for r in results if r.answered]
    last = max((r.end for r in answered), default=released)
    return answered, results, last - released


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


# --- setup ---------------------------------------------------------------------------------------

def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,4,16,64", help="concurrent clients, comma-separated")
    parser.add_argument("--requests", type=int, default=20, help="answers per level, at least 2 per client")
    parser.add_argument("--burst-stream", type=int, default=64, help="streamed requests sent at once")
    parser.add_argument("--burst-plain", type=int, default=200, help="plain requests sent at once")
    parser.add_argument("--sdk-clients", type=int, default=100, help="openai SDK clients sent at once")
    parser.add_argument("--max-concurrency", type=int, default=None, help="the server's MAX_CONCURRENCY")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]
    began = time.monotonic()
    print(f"Claude CLI {CLI_VERSION}; {cores()} CPUs; load average at start {load_average()}")
    try:
        with against_stub() as (claude, stub, home):
            port = free_port()
            server_env = dict(os.environ, CLAUDE_PATH=claude, PORT=str(port), HOST="127.0.0.1")
            if args.max_concurrency:
                server_env["MAX_CONCURRENCY"] = str(args.max_concurrency)
            settings = Settings.from_env(server_env)
            body = {"model": settings.model, "messages": [{"role": "user", "content": PROMPT}]}
            direct = Direct(settings, body)
            print(f"server: MAX_CONCURRENCY={settings.max_concurrency}, MAX_QUEUE={settings.max_queue}, "
                  f"QUEUE_TIMEOUT={settings.queue_timeout:g}")
            with gunicorn(server_env, port, os.path.join(home, "gunicorn.log")) as master:
                server = ServerProcesses(master.pid)
                for _ in range(3):  # warm-ups: the CLI's files in the page cache, the admission's run times
                    direct.one(), ask(port, body, False)
                best = {}
                print("\n1. Closed loops: N clients, each asking again once answered (a refused one after "
                      "Retry-After)")
                for clients in sorted(set(levels) | {cores()}):
                    total = max(args.requests, 2 * clients)
                    print(f"\n   {clients} at once, {total} answers each side; load average {load_average()}")
                    print(HEAD)
                    if room_for(clients):
                        best[clients] = direct_level(direct, clients, total)
                        print_row("direct", best[clients])
                    else:
                        print(f"   direct: skipped, not enough free memory for {clients} CLIs")
                    if clients in levels:
                        print_row("server plain", server_level(server, port, body, clients, total, False))
                        print_row("server stream", server_level(server, port, body, clients, total, True))
                top = max(best.items(), key=lambda item: item[1]["per_s"]) if best else (None, {"per_s": 0})
                print(f"\n   best direct throughput: {top[1]['per_s']:.2f} answers/s at {top[0]} at once")

                limit = settings.max_concurrency
                print(f"\n2. {args.burst_stream} streamed requests at once (each must complete, or be refused "
                      f"within {REFUSED_WITHIN:g} s)")
                answered, refusals, lost, _, peaks = burst(server, port, body, args.burst_stream, True, limit)
                ok = (len(answered) + len(refusals) == args.burst_stream and not lost and
                      max(refusals, default=0) <= REFUSED_WITHIN and peaks.cli_peak <= limit)
                print(f"   {'met' if ok else 'NOT MET'}: every request answered or refused in time, CLIs within "
                      "the limit, nothing lost")

                print(f"\n3. {args.burst_plain} plain requests at once (no 5xx but the capacity refusal)")
                answered, refusals, lost, other, _ = burst(server, port, body, args.burst_plain, False, limit)
                print(f"   {'met' if not other and not lost else 'NOT MET'}: {len(other)} other 5xx, {len(lost)} lost")

                print(f"\n4. {args.sdk_clients} openai SDK clients at once (default retries, honouring Retry-After)")
                refused_before = metric(port, "claude_proxy_admissions_total{result=\"queue")
                answered, results, seconds = sdk_burst(port, args.sdk_clients, settings.model)
                refused = metric(port, "claude_proxy_admissions_total{result=\"queue") - refused_before
                goodput = len(answered) / seconds if seconds else 0.0
                failed = collections.Counter(f"{r.status} {r.code}" for r in results if not r.answered)
                print(f"   answered {len(answered)}/{args.sdk_clients} (failed: {dict(failed) or 'none'}); the server "
                      f"refused {refused:.0f} requests on the way; last answer after {seconds:.1f} s")
                if top[0] is not None:  # again, right after: the machine's load drifts over minutes
                    again = direct_level(direct, top[0], max(args.requests, 2 * top[0]))
                    print(f"   direct at {top[0]} at once, measured again just after: {again['per_s']:.2f} answers/s")
                    best_direct = max(top[1]["per_s"], again["per_s"])
                else:
                    best_direct = 0.0
                ratio = goodput / best_direct if best_direct else float("nan")
                print(f"   goodput {goodput:.2f} answers/s = {ratio:.2f} x the better of the two direct figures "
                      f"({best_direct:.2f}/s); target >= 0.8: "
                      f"{'met' if ratio >= 0.8 and len(answered) == args.sdk_clients else 'NOT MET'}")
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(f"\n(total {time.monotonic() - began:.0f} s; load average at the end {load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
