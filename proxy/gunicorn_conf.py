"""Gunicorn settings: `gunicorn proxy:app` reads them through ./gunicorn.conf.py in a checkout;
elsewhere, `gunicorn -c python:proxy.gunicorn_conf proxy:app`.

One worker process with threads. The work is in the CLI subprocesses, not in Python, so more
worker processes would add nothing but memory; and one process is what makes the limit on CLI runs,
its first-in first-out queue, Retry-After and the metrics exact for the whole server. The config
refuses any other shape at startup.
"""
import signal
import sys
import threading

from proxy.config import ConfigError, Settings

__all__ = ["bind", "worker_class", "workers", "threads", "graceful_timeout", "keepalive", "on_starting",
           "post_worker_init"]
SPARE_THREADS = 16  # for what never waits on a CLI: refusals, /health, /ready, /metrics, /v1/models

try:
    _settings = Settings.from_env()
except ConfigError as error:
    sys.exit(f"Configuration error: {error}")

bind = f"{_settings.host}:{_settings.port}"
# Each request waits on a CLI subprocess: threads, not one process per stream, carry the waiting.
worker_class = "gthread"
workers = 1
# More threads than runs plus queue: requests wait in the admission queue, where they are counted,
# refused with Retry-After when it is full, and dropped when their client leaves; never unseen in
# the accept backlog.
threads = _settings.max_concurrency + _settings.max_queue + SPARE_THREADS
# A worker being stopped lets its running answers finish, up to the CLI deadline.
graceful_timeout = int(_settings.timeout) + 10
keepalive = 5


def on_starting(server):
    """Refuse a shape in which the limit on CLI runs would not hold (gunicorn's flags beat this file)."""
    cfg, least = server.cfg, _settings.max_concurrency + _settings.max_queue + 1
    problems = []
    if cfg.workers != 1:
        problems.append(f"workers={cfg.workers}: the proxy runs one worker process, whose threads wait on the CLIs; "
                        "the limit on CLI runs (MAX_CONCURRENCY) and its queue hold for one process only")
    if cfg.threads < least:
        problems.append(f"threads={cfg.threads}: at least MAX_CONCURRENCY + MAX_QUEUE + 1 = {least} are needed, "
                        "so that waiting requests are in the queue, not the accept backlog")
    if problems:
        sys.exit("Configuration error: " + "; ".join(problems) + ". Leave these to proxy/gunicorn_conf.py.")


def post_worker_init(worker):
    """On SIGTERM, drain before gunicorn stops the worker.

    While running answers finish (each within its deadline), the worker goes on accepting: new
    requests for a CLI get 503 with Retry-After and /ready answers 503, rather than waiting unseen
    in the backlog. Then gunicorn's own graceful stop runs, and the CLIs left, if any, are killed.
    """
    extensions = getattr(worker.wsgi, "extensions", {})
    manager = extensions.get("manager")
    if manager is None:  # the app did not load; gunicorn serves its error page
        return

    draining = threading.Event()

    def drain_then_stop(sig):
        worker.log.info("Draining: finishing %d running answers, refusing new requests", manager.admission.running)
        manager.drain(_settings.timeout + 5)
        worker.handle_exit(sig, None)

    def on_sigterm(sig, frame):  # the handler only starts the drain: it runs between the main thread's steps
        if not draining.is_set():
            draining.set()
            threading.Thread(target=drain_then_stop, args=(sig,), name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)
