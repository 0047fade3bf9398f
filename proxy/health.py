"""GET /health (liveness) and GET /ready (readiness).

/health: whether the CLI can be run, what a request gets by default, and the admission figures; it
stays 200 while the server drains. /ready: 503 while the server drains, when the CLI is missing, or
when a request arriving now would be refused, so that a load balancer sends traffic elsewhere.
"""
from __future__ import annotations

import os

from flask import current_app

from .http import json_response


def _cli_missing(settings):
    """Why the CLI cannot be run, or None."""
    if current_app.extensions["cli_version"] and os.access(settings.claude_path, os.X_OK):
        return None
    return (f"The Claude CLI at CLAUDE_PATH={settings.claude_path!r} cannot be run. Install it "
            "(npm install -g @anthropic-ai/claude-code) or set CLAUDE_PATH.")


def health():
    settings = current_app.config["SETTINGS"]
    version = current_app.extensions["cli_version"]
    manager = current_app.extensions["manager"]
    body = {"status": "ok" if version else "unavailable", "model": settings.model, "effort": settings.effort,
            "cli_version": version, "cli_path": settings.claude_path, "host_hidden": manager.seeds is not None,
            "concurrency": manager.admission.figures(), "warm": manager.spares.stats()}
    if not version:
        body["message"] = _cli_missing(settings)
    return json_response(body, 200 if version else 503)


def ready():
    settings = current_app.config["SETTINGS"]
    admission = current_app.extensions["manager"].admission
    missing = _cli_missing(settings)
    if admission.draining:
        body = {"status": "draining", "message": "The server is shutting down: it finishes the answers it has "
                                                 "begun and takes no new requests."}
    elif missing:
        body = {"status": "cli_unavailable", "message": missing}
    elif admission.full:
        figures = admission.figures()
        body = {"status": "at_capacity", "message": f"All {figures['limit']} CLI slots are taken and "
                                                    f"{figures['queued']} requests are queued; more would be refused."}
    else:
        return json_response({"status": "ready"})
    return json_response(body, 503)
