"""Warm start: latency through the proxy with CLIs started ahead (warm) and without (cold), against a
direct cold run of the same CLI, for a single-turn request, a 6-step chat and a 6-step agent loop.

Usage: python bench/warm.py [--rounds N] [--quiet SECONDS]

Everything runs against an in-process StubUpstream with the real pinned CLI. Each round runs the
three sides one after the other, in turn, with `--quiet` seconds between requests (the time a
spare needs to be started again): "direct" runs the argv, files and stdin the proxy builds for
the request (proxy.command), cold, from this process; "proxy cold" is `gunicorn proxy:app` with
WARM_SPARES=0 and WARM_CONVERSATIONS=0; "proxy warm" the same with spares. Requests are streamed:
TTFT is the first text (or the first byte of a tool call answer), total the end of the answer.
Figures are printed, never asserted; ratios are of medians, against direct.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harness.record_scenarios import WEATHER  # noqa: E402
from proxy import command, conversation, seeds  # noqa: E402
from proxy.api.openai_chat_input import to_ask  # noqa: E402
from proxy.config import Settings  # noqa: E402
from processes import cpu_of_tree  # noqa: E402  (bench/processes.py)
from served import free_port, gunicorn  # noqa: E402  (bench/served.py)
from stats import median, pct  # noqa: E402  (bench/stats.py)
from upstream import CLI_VERSION, against_stub  # noqa: E402  (bench/upstream.py)

STEPS = 6


class Direct:
    """Run the CLI cold for a chat request body, exactly as the proxy would, from this process."""

    def __init__(self, settings, captured):
        self.settings, self.seeds = settings, captured

    def __call__(self, body):
        ask = to_ask(body, self.settings)
        cli_input = conversation.to_cli_input(ask, self.settings)
        workdir, cwd, argv, env = command.prepare(self.settings, cli_input, self.seeds, "bench-direct-")
        try:
            start = time.monotonic()
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    cwd=cwd, env=env, start_new_session=True)
            proc.stdin.write(command.stdin_bytes(cli_input))
            proc.stdin.close()
            first, answer = None, None
            for line in proc.stdout:
                event = json.loads(line) if line.startswith(b"{") else {}
                inner = event.get("event") or {}
                if first is None and event.get("type") == "stream_event" and inner.get("type") == "content_block_delta":
                    first = time.monotonic()
                if event.get("type") == "result":
                    answer = event
                    break
            done = time.monotonic()
            proc.wait()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        calls = (answer.get("structured_output") or {}).get("tool_calls")
        reply = {"role": "assistant", "content": answer.get("result") if not calls else "Let me check."}
        if calls:
            reply["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {
                "name": c["name"], "arguments": json.dumps(c["arguments"])}} for i, c in enumerate(calls)]
        return (first or done) - start, done - start, reply


class Served:
    """Stream chat requests to a running proxy; return (TTFT, total, the assistant message)."""

    def __init__(self, port):
        self.port = port

    def __call__(self, body):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        start = time.monotonic()
        connection.request("POST", "/v1/chat/completions", json.dumps(dict(body, stream=True)),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"proxy answered {response.status}: {response.read()[:300]!r}")
        first, text, calls = None, "", {}
        while True:
            line = response.readline()
            if not line or line.startswith(b"data: [DONE]"):
                break
            if not line.startswith(b"data: "):
                continue
            delta = (json.loads(line[6:]).get("choices") or [{}])[0].get("delta") or {}
            if first is None and (delta.get("content") or delta.get("tool_calls")):
                first = time.monotonic()
            text += delta.get("content") or ""
            for piece in delta.get("tool_calls") or ():
                call = calls.setdefault(piece["index"], {"id": piece.get("id"), "type": "function",
                                                         "function": {"name": "", "arguments": ""}})
                call["function"]["name"] += piece.get("function", {}).get("name") or ""
                call["function"]["arguments"] += piece.get("function", {}).get("arguments") or ""
        done = time.monotonic()
        connection.close()
        reply = {"role": "assistant", "content": text or None}
        if calls:
            reply["tool_calls"] = [calls[i] for i in sorted(calls)]
        return (first or done) - start, done - start, reply

    def health(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", "/health")
        body = json.loads(connection.getresponse().read())
        connection.close()
        return body


def single(side):
    return [side({"model": "haiku", "messages": [{"role": "user", "content": "Say hello."}]})]


def chat(side):
    messages, out = [{"role": "system", "content": "You are terse."}], []
    for step in range(STEPS):
        messages.append({"role": "user", "content": f"Message {step + 1} of our chat."})
        ttft, total, reply = side({"model": "haiku", "messages": messages})
        messages.append({"role": "assistant", "content": reply["content"]})
        out.append((ttft, total, reply))
        time.sleep(QUIET)
    return out


def agent(side):
    messages, out = [{"role": "user", "content": "Check the weather, step by step. [stub:tools_call]"}], []
    for _ in range(STEPS):
        ttft, total, reply = side({"model": "haiku", "tools": [WEATHER], "messages": messages})
        messages.append(reply)
        messages += [{"role": "tool", "tool_call_id": call["id"], "content": "18C, sunny"}
                     for call in reply.get("tool_calls") or ()]
        out.append((ttft, total, reply))
        time.sleep(QUIET)
    return out


QUIET = 1.5


def main(argv=None):
    global QUIET
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each workload (each side once a round)")
    parser.add_argument("--quiet", type=float, default=QUIET, help="seconds between requests")
    args = parser.parse_args(argv)
    QUIET = args.quiet
    began = time.monotonic()
    with against_stub() as (claude, stub, home):
        settings = Settings(claude_path=claude)
        direct = Direct(settings, seeds.capture(settings))
        ports = free_port(), free_port()
        cold_env = dict(os.environ, CLAUDE_PATH=claude, PORT=str(ports[0]), WARM_SPARES="0", WARM_CONVERSATIONS="0")
        warm_env = dict(os.environ, CLAUDE_PATH=claude, PORT=str(ports[1]), WARM_SPARES="1", WARM_CONVERSATIONS="2")
        print(f"Claude CLI {CLI_VERSION}; {os.cpu_count()} CPUs; {args.rounds} rounds; {QUIET} s between requests; "
              f"load before: {os.getloadavg()[0]:.2f}")
        with gunicorn(cold_env, ports[0], os.path.join(home, "cold.log")) as cold_server, \
                gunicorn(warm_env, ports[1], os.path.join(home, "warm.log")) as warm_server:
            sides = {"direct": direct, "proxy cold": Served(ports[0]), "proxy warm": Served(ports[1])}
            servers = {"proxy cold": cold_server, "proxy warm": warm_server}
            time.sleep(5)  # the warm server's canary and first spare
            for label, workload in (("single-turn request", single), (f"{STEPS}-step chat", chat),
                                    (f"{STEPS}-step agent loop", agent)):
                measure(label, workload, sides, servers, args.rounds)
        print(f"\nload after: {os.getloadavg()[0]:.2f}; total {time.monotonic() - began:.0f} s")
    return 0


def measure(label, workload, sides, servers, rounds):
    results = {name: [] for name in sides}

    def cpu_now():  # each side's CPU so far: the servers' process trees (spares included), direct's CLIs
        return {name: cpu_of_tree(servers[name].pid) if name in servers else _children_cpu() for name in sides}

    hits, before = sides["proxy warm"].health()["warm"], cpu_now()
    for _ in range(rounds):
        for name, side in sides.items():
            results[name].append(workload(side))
            time.sleep(QUIET)
    time.sleep(2)  # the spares started after the last request finish starting: their CPU counts
    after, cpu = sides["proxy warm"].health()["warm"], {n: v - before[n] for n, v in cpu_now().items()}
    requests = rounds * len(results["direct"][0])
    print(f"\n{label} ({rounds} rounds; warm hits {after['hits'] - hits['hits']}, misses "
          f"{after['misses'] - hits['misses']} of {requests} requests)")
    steps = range(len(results["direct"][0]))
    groups = [("", list(steps))] if len(steps) == 1 else [("step 1", [0]), (f"steps 2-{len(steps)}", list(steps)[1:])]
    print(f"   {'':22} {'TTFT med':>9} {'p90':>7} {'total med':>10} {'p90':>7} {'TTFT ratio':>11} {'total ratio':>12}")
    for group, indices in groups:
        base = None
        for name in sides:
            ttft = [results[name][r][i][0] * 1000 for r in range(rounds) for i in indices]
            total = [results[name][r][i][1] * 1000 for r in range(rounds) for i in indices]
            base = base or (median(ttft), median(total))
            print(f"   {name + (' ' + group if group else ''):22} {median(ttft):9.0f} {pct(ttft, 90) if len(ttft) > 1 else ttft[0]:7.0f} "
                  f"{median(total):10.0f} {pct(total, 90) if len(total) > 1 else total[0]:7.0f} "
                  f"{median(ttft) / base[0]:11.2f} {median(total) / base[1]:12.2f}")
    print("   CPU seconds per request: " + ", ".join(f"{name} {cpu[name] / requests:.2f}" for name in sides)
          + " (over the whole workload; proxy: the server's process tree, spares and the server itself included)")
    started, unused = (after[k] - hits[k] for k in ("started", "unused"))
    starts = {name: requests for name in sides}
    starts["proxy warm"] = started + after["misses"] - hits["misses"]  # spares, and the requests run cold
    print(f"   CLIs started: {starts['proxy warm']} warm for {requests} requests ({started} spares, {unused} of them "
          f"reaped unused); CPU seconds per CLI started: "
          + ", ".join(f"{name} {cpu[name] / starts[name]:.2f}" for name in sides))


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
