"""Each request's id and record, and the one log line (and the metrics) it gives once its response has ended.

The id is the client's X-Request-Id when it sends a usable one, else a new one; the response carries
it back. The record collects what the run driver and the manager learn (queue wait, first token, how
the CLI ended, the answer's tokens and cost); when the response closes (for a stream: after its last
frame) one line is logged, text or JSON (LOG_FORMAT), and the metrics are counted. No prompt or
answer text is ever logged.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import sys
import time
import uuid

from flask import current_app, g, has_request_context, request

log = logging.getLogger("proxy.requests")
CLIENT_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")  # anything else could forge log lines
QUIET = ("getHealth", "getReady", "getMetrics")  # probes and scrapes: logged at DEBUG only


@dataclasses.dataclass
class Record:
    """What a request's log line says; the driver and the manager fill in their parts."""

    id: str = ""
    started: float = dataclasses.field(default_factory=time.monotonic)
    method: str = ""
    route: str = ""  # the spec's path template, or the path when no route matched
    operation: str | None = None
    model: str | None = None  # the model asked for, until one answers
    queue_wait: float | None = None  # seconds waiting for a CLI slot
    admission: str | None = None  # admitted, queue_full, queue_timeout, draining, client_gone
    warm: bool | None = None  # served by a CLI started ahead of the request
    first_token: float | None = None  # time.monotonic() of the first piece of the answer
    cli: str | None = None  # how the CLI ended (driver.Run.outcome)
    answer: object = None  # the answer.Answer of a run that started: the model that answered, tokens, cost

    def fields(self, status, now):
        """The log line's fields."""
        counts = self.answer.counts() if self.answer is not None else None
        return {
            "request_id": self.id, "method": self.method, "route": self.route,
            "model": self.answer.model if self.answer is not None else self.model, "status": status,
            "queue_wait_s": _seconds(self.queue_wait),
            "ttft_s": _seconds(self.first_token - self.started if self.first_token else None),
            "latency_s": _seconds(now - self.started),
            "tokens_in": tokens_in(counts) if counts else None,
            "tokens_out": counts["output_tokens"] if counts else None,
            "cost_usd": self.answer.cost if self.answer is not None else None,
            "admission": self.admission, "warm": self.warm, "cli": self.cli,
        }


def tokens_in(counts):
    """Prompt tokens as the API bills them: input, cache reads and cache writes."""
    return counts["input_tokens"] + counts["cache_read_input_tokens"] + counts["cache_creation_input_tokens"]


def _seconds(value):
    return None if value is None else round(value, 4)


def record():
    """The current request's record (a detached one outside a request)."""
    if has_request_context() and "record" in g:
        return g.record
    return Record()


def start():
    sent = request.headers.get("X-Request-Id", "")
    rule = request.url_rule
    g.record = Record(id=sent if CLIENT_ID.match(sent) else "req_" + uuid.uuid4().hex, method=request.method,
                      route=rule.rule.replace("<", "{").replace(">", "}") if rule else request.path,
                      operation=request.endpoint)
    g.request_id = g.record.id


def tag(response):
    """Send the request id back, and have the log line written once the response has ended."""
    current = g.get("record")
    if current is None:
        return response
    response.headers["x-request-id"] = current.id
    metrics = current_app.extensions.get("metrics")
    response.call_on_close(lambda: finish(current, response.status_code, metrics))
    return response


def finish(current, status, metrics=None):
    """Log the request's line and count it in the metrics."""
    fields = current.fields(status, time.monotonic())
    log.log(logging.DEBUG if current.operation in QUIET else logging.INFO, "request", extra={"fields": fields})
    if metrics is not None:
        metrics.count(current, fields)


# --- the log line's format ----------------------------------------------------------------------

class TextFormat(logging.Formatter):
    def format(self, entry):
        fields = getattr(entry, "fields", {})
        pairs = " ".join(f"{k}={'-' if v is None else v}" for k, v in fields.items())
        return f"{self.formatTime(entry)} {entry.getMessage()} {pairs}"


class JsonFormat(logging.Formatter):
    def format(self, entry):
        stamp = datetime.datetime.fromtimestamp(entry.created, datetime.timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps({"time": stamp, "level": entry.levelname.lower(), "event": entry.getMessage(),
                           **getattr(entry, "fields", {})})


def configure(settings):
    """Write request lines to stderr in the LOG_FORMAT, once per process."""
    if not log.handlers:
        log.addHandler(logging.StreamHandler(sys.stderr))
        log.setLevel(logging.INFO)
        log.propagate = False
    for handler in log.handlers:
        handler.setFormatter(JsonFormat() if settings.log_format == "json" else TextFormat())
