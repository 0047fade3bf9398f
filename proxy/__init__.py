"""An OpenAI-compatible HTTP server over the local Claude Code CLI.

`gunicorn proxy:app` serves it; `create_app()` builds a new app (tests pass their own Settings).
"""
from .factory import create_app

__all__ = ["create_app", "app"]


def __getattr__(name):
    # Built on first use, so that importing the package (tests, tools) reads no environment.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
