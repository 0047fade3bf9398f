"""Settings, read from the environment in this one place and checked once at startup."""
from __future__ import annotations

import dataclasses
import os
import shutil

# A spare holds about 120 MiB and starting one costs most of a second of a core: one per two cores.
DEFAULT_SPARES = max(1, (os.cpu_count() or 2) // 2)

EFFORTS = ("low", "medium", "high", "xhigh", "max")
HISTORY_MODES = ("transcript", "flatten")
LOG_FORMATS = ("text", "json")


def cores():
    """The CPUs this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class ConfigError(ValueError):
    """A setting in the environment is unusable; the message names it and says what it takes."""


@dataclasses.dataclass(frozen=True)
class Settings:
    claude_path: str = "claude"
    model: str = "haiku"
    effort: str | None = None
    host: str = "127.0.0.1"
    port: int = 8082
    timeout: float = 300.0
    max_retries: int = 0
    api_key: str | None = None
    history: str = "transcript"
    keepalive: float = 15.0
    reasoning: bool = False
    image_fetch: bool = False
    image_max_bytes: int = 5_000_000
    image_timeout: float = 10.0
    hide_host: bool = True
    warm_spares: int = DEFAULT_SPARES
    warm_conversations: int = 2
    warm_max_age: float = 600.0
    # Each CLI run costs about 0.8 CPU-s to start and 150-200 MiB while it runs: more runs at once than
    # cores only slows every answer down (README, "Serving under load").
    max_concurrency: int = dataclasses.field(default_factory=cores)
    max_queue: int = 64
    queue_timeout: float = 60.0
    log_format: str = "text"
    responses_db: str = ":memory:"  # from the environment: RESPONSES_DB, else under XDG_STATE_HOME
    responses_retention_days: float = 30.0  # 0 keeps stored responses for ever

    @classmethod
    def from_env(cls, environ=None):
        """Read the settings from environ (default os.environ), raising ConfigError if one is unusable."""
        env = os.environ if environ is None else environ
        settings = cls(
            claude_path=_claude_path(env.get("CLAUDE_PATH") or "claude"),
            model=env.get("CLAUDE_MODEL") or cls.model,
            effort=_choice(env, "CLAUDE_EFFORT", EFFORTS),
            host=env.get("HOST") or cls.host,
            port=_number(env, "PORT", int, cls.port, 1, 65535),
            timeout=_number(env, "CLAUDE_TIMEOUT", float, cls.timeout, 1, 24 * 3600),
            max_retries=_number(env, "CLAUDE_MAX_RETRIES", int, cls.max_retries, 0, 15),
            api_key=env.get("PROXY_API_KEY") or None,
            history=_choice(env, "CLAUDE_HISTORY", HISTORY_MODES) or cls.history,
            keepalive=_number(env, "SSE_KEEPALIVE", float, cls.keepalive, 0.1, 3600),
            reasoning=_choice(env, "CLAUDE_REASONING_CONTENT", ("0", "1")) == "1",
            image_fetch=_choice(env, "CLAUDE_IMAGE_FETCH", ("0", "1")) == "1",
            image_max_bytes=_number(env, "CLAUDE_IMAGE_MAX_BYTES", int, cls.image_max_bytes, 1, 100_000_000),
            image_timeout=_number(env, "CLAUDE_IMAGE_TIMEOUT", float, cls.image_timeout, 0.1, 300),
            hide_host=_choice(env, "CLAUDE_HIDE_HOST", ("0", "1")) != "0",
            warm_spares=_number(env, "WARM_SPARES", int, cls.warm_spares, 0, 64),
            warm_conversations=_number(env, "WARM_CONVERSATIONS", int, cls.warm_conversations, 0, 64),
            warm_max_age=_number(env, "WARM_MAX_AGE", float, cls.warm_max_age, 1, 24 * 3600),
            max_concurrency=_number(env, "MAX_CONCURRENCY", int, cores(), 1, 256),
            max_queue=_number(env, "MAX_QUEUE", int, cls.max_queue, 0, 1000),
            queue_timeout=_number(env, "QUEUE_TIMEOUT", float, cls.queue_timeout, 0.1, 24 * 3600),
            log_format=_choice(env, "LOG_FORMAT", LOG_FORMATS) or cls.log_format,
            responses_db=env.get("RESPONSES_DB") or _state_path(env, "responses.sqlite3"),
            responses_retention_days=_number(env, "RESPONSES_RETENTION_DAYS", float, cls.responses_retention_days,
                                             0, 36500),
        )
        return settings

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _claude_path(value):
    # Resolved once so that each run does not search PATH; left as given when absent, so that
    # /health can report the CLI missing instead of the proxy refusing to start.
    return shutil.which(value) or value


def _state_path(env, name):
    """Return a file under $XDG_STATE_HOME (default ~/.local/state)/claude-cli-proxy/."""
    home = env.get("HOME") or os.path.expanduser("~")
    state = env.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(state, "claude-cli-proxy", name)


def _choice(env, name, choices):
    value = env.get(name) or None
    if value is not None and value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value


def _number(env, name, kind, default, low, high):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {'a whole number' if kind is int else 'a number'}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}.")
    return value
