"""GET /metrics: the Prometheus text format, from prometheus_client.

One registry per app, so that apps built side by side (tests) count apart. The server runs one
gunicorn worker (proxy/gunicorn_conf.py says why), so the process's counts are the server's: no
multiprocess mode is needed. Requests are counted when their response ends (requestlog.finish);
the running and queued gauges are read from the admission, the spares' figures from the pool, at
each scrape.
"""
from __future__ import annotations

from flask import current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

NAMESPACE = "claude_proxy"
# From a refusal in a millisecond to a long answer near the default CLAUDE_TIMEOUT.
LATENCY_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, float("inf"))


class Metrics:
    """The proxy's metrics, in a registry of their own."""

    def __init__(self, admission, spares):
        self.registry = registry = CollectorRegistry()
        kw = {"namespace": NAMESPACE, "registry": registry}
        self.requests = Counter("requests", "HTTP requests answered, by route and status.", ["route", "status"], **kw)
        self.latency = Histogram("request_duration_seconds", "From a request's arrival to the end of its response "
                                 "(for a stream, its last frame).", ["route"], buckets=LATENCY_BUCKETS, **kw)
        self.first_token = Histogram("time_to_first_token_seconds", "From a request's arrival to the first piece of "
                                     "its answer (text or thinking).", ["route"], buckets=LATENCY_BUCKETS, **kw)
        self.queue_wait = Histogram("queue_wait_seconds", "Time a request waited for a CLI slot (0 when one was "
                                    "free).", buckets=(0,) + LATENCY_BUCKETS, **kw)
        self.admissions = Counter("admissions", "Requests that asked for a CLI, by what admission did: admitted, "
                                  "queue_full, queue_timeout, draining, client_gone.", ["result"], **kw)
        self.cli_runs = Counter("cli_runs", "CLI runs by how they ended: success, deadline (killed at "
                                "CLAUDE_TIMEOUT), client_gone, or the failure's error code.", ["outcome"], **kw)
        self.tokens = Counter("tokens", "Tokens of finished runs: in (prompt, cache reads and writes "
                              "included) and out.", ["direction"], **kw)
        self.cost = Counter("cost_usd", "Cost in US dollars the CLI reported for its runs.", **kw)
        Gauge("cli_runs_running", "CLI runs holding a slot now.", **kw).set_function(lambda: admission.running)
        Gauge("cli_runs_queued", "Requests waiting for a CLI slot now.", **kw).set_function(lambda: admission.queued)
        Gauge("cli_runs_limit", "The most CLI runs at once (MAX_CONCURRENCY).", **kw).set(admission.limit)
        Gauge("queue_size", "The most requests waiting (MAX_QUEUE).", **kw).set(admission.queue_size)
        registry.register(SpareFigures(spares))

    def count(self, record, fields):
        """Count one finished request from its record and its log line's fields."""
        route = record.route if record.operation else "unmatched"
        self.requests.labels(route, str(fields["status"])).inc()
        self.latency.labels(route).observe(fields["latency_s"])
        if fields["ttft_s"] is not None:
            self.first_token.labels(route).observe(fields["ttft_s"])
        if record.admission is not None:
            self.admissions.labels(record.admission).inc()
            self.queue_wait.observe(record.queue_wait or 0.0)
        if record.cli is not None:
            self.cli_runs.labels(record.cli).inc()
            self.tokens.labels("in").inc(fields["tokens_in"] or 0)
            self.tokens.labels("out").inc(fields["tokens_out"] or 0)
            if fields["cost_usd"]:
                self.cost.inc(fields["cost_usd"])


class SpareFigures:
    """The warm pool's figures (Spares.stats), read at each scrape."""

    COUNTS = {"hits": "Requests served by a spare.", "misses": "Requests that found no spare and ran cold.",
              "started": "Spares started.", "unused": "Spares reaped without serving a request."}

    def __init__(self, spares):
        self.spares = spares

    def collect(self):
        figures = self.spares.stats()
        yield GaugeMetricFamily(f"{NAMESPACE}_spares_idle", "Spares started and waiting for a request.",
                                value=figures["idle"])
        for name, text in self.COUNTS.items():
            yield CounterMetricFamily(f"{NAMESPACE}_spare_{name}", text, value=figures[name])


def metrics():
    registry = current_app.extensions["metrics"].registry
    return current_app.response_class(generate_latest(registry), mimetype=None,
                                      headers={"Content-Type": CONTENT_TYPE_LATEST})
