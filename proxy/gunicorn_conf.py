"""Gunicorn settings: `gunicorn proxy:app` reads them through ./gunicorn.conf.py in a checkout;
elsewhere, `gunicorn -c python:proxy.gunicorn_conf proxy:app`."""
import sys

from proxy.config import ConfigError, Settings

__all__ = ["bind", "worker_class", "workers", "threads", "graceful_timeout", "keepalive"]

try:
    _settings = Settings.from_env()
except ConfigError as error:
    sys.exit(f"Configuration error: {error}")

bind = f"{_settings.host}:{_settings.port}"
# Each request waits on a CLI subprocess: threads, not one process per stream, carry the waiting.
worker_class = "gthread"
workers = 1
threads = 32
# A worker being stopped lets its running answers finish, up to the CLI deadline.
graceful_timeout = int(_settings.timeout) + 10
keepalive = 5
