"""The app factory: it only wires settings, the spec, the process manager, metrics, routes, auth, logs and errors."""
from __future__ import annotations

import logging
import re

from flask import Flask

from . import api, auth, cli, errorhandlers, health, metrics, requestlog, responses_store, versions
from .config import Settings
from .manager import Manager
from .spec import Spec

log = logging.getLogger("proxy")
VIEWS = {"getHealth": health.health, "getReady": health.ready, "getMetrics": metrics.metrics, **api.VIEWS}
MAX_BODY_BYTES = 64 * 1024 * 1024  # room for long conversations and inline images; more is a 413


def create_app(settings=None):
    """Build the app; settings default to the environment's (Settings.from_env)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["spec"] = spec = Spec()
    app.extensions["responses_store"] = responses_store.open_store(settings)
    app.extensions["cli_version"] = cli.cli_version(settings)
    if app.extensions["cli_version"] is None:
        log.warning("The Claude CLI at CLAUDE_PATH=%r cannot be run; /health reports it.", settings.claude_path)
    versions.check(app.extensions["cli_version"])
    app.extensions["manager"] = manager = Manager(settings)
    app.extensions["metrics"] = metrics.Metrics(manager.admission, manager.spares)
    requestlog.configure(settings)
    for operation_id, (method, path) in spec.operations.items():
        rule = re.sub(r"\{(\w+)\}", r"<\1>", path)
        app.add_url_rule(rule, endpoint=operation_id, view_func=VIEWS[operation_id], methods=[method.upper()],
                         provide_automatic_options=False)
    app.before_request(requestlog.start)
    app.before_request(auth.require_key)
    app.after_request(requestlog.tag)
    errorhandlers.register(app)
    return app
