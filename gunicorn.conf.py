"""Gunicorn settings, read by a plain `gunicorn proxy:app` from this directory."""
import sys

from proxy.config import ConfigError, Settings

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
