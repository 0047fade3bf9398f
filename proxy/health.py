"""GET /health: whether the CLI can be run, and what a request gets by default."""
from __future__ import annotations

from flask import current_app

from .http import json_response


def health():
    settings = current_app.config["SETTINGS"]
    version = current_app.extensions["cli_version"]
    manager = current_app.extensions["manager"]
    body = {"status": "ok" if version else "unavailable", "model": settings.model, "effort": settings.effort,
            "cli_version": version, "cli_path": settings.claude_path, "host_hidden": manager.seeds is not None,
            "warm": manager.spares.stats()}
    if not version:
        body["message"] = (f"The Claude CLI at CLAUDE_PATH={settings.claude_path!r} cannot be run. Install it "
                           "(npm install -g @anthropic-ai/claude-code) or set CLAUDE_PATH.")
    return json_response(body, 200 if version else 503)
