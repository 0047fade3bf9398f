"""The app factory: settings, the spec, routes bound by operationId, auth and error envelopes."""
from __future__ import annotations

import hmac
import logging
import re
import uuid

from flask import Flask, current_app, g, request
from werkzeug.exceptions import HTTPException

from . import chat, cli, errors, models, versions
from .config import Settings
from .http import error_response
from .spec import Spec

log = logging.getLogger("proxy")
VIEWS = {
    "createChatCompletion": chat.create_chat_completion,
    "listModels": models.list_models,
    "retrieveModel": models.retrieve_model,
    "getHealth": models.health,
}
MAX_BODY_BYTES = 64 * 1024 * 1024  # room for long conversations and inline images; more is a 413
HTTP_ERRORS = {404: errors.NotFound, 405: errors.MethodNotAllowed, 413: errors.InvalidRequest,
               415: errors.UnsupportedMediaType}


def create_app(settings=None):
    """Build the app; settings default to the environment's (Settings.from_env)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["spec"] = spec = Spec()
    app.extensions["cli_version"] = cli.cli_version(settings)
    if app.extensions["cli_version"] is None:
        log.warning("The Claude CLI at CLAUDE_PATH=%r cannot be run; /health reports it.", settings.claude_path)
    versions.check(app.extensions["cli_version"])
    for operation_id, (method, path) in spec.operations.items():
        rule = re.sub(r"\{(\w+)\}", r"<\1>", path)
        app.add_url_rule(rule, endpoint=operation_id, view_func=VIEWS[operation_id], methods=[method.upper()],
                         provide_automatic_options=False)
    app.before_request(_start_request)
    app.after_request(_tag_response)
    app.register_error_handler(errors.ProxyError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _start_request():
    g.request_id = "req_" + uuid.uuid4().hex
    key = current_app.config["SETTINGS"].api_key
    if key and request.path.startswith("/v1/"):
        header = request.headers.get("Authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), key.encode()):
            raise errors.Unauthorized()


def _tag_response(response):
    response.headers["x-request-id"] = g.get("request_id", "")
    return response


def _http_error(exc):
    kind = HTTP_ERRORS.get(exc.code, errors.InvalidRequest if (exc.code or 500) < 500 else errors.ProxyError)
    if exc.code == 404:
        message = f"Unknown request URL: {request.method} {request.path}."
    elif exc.code == 405:
        message = f"{request.method} is not allowed on {request.path}; allowed: {', '.join(exc.valid_methods or [])}."
    else:
        message = exc.description
    headers = {"Allow": ", ".join(exc.valid_methods or [])} if exc.code == 405 else None
    error = kind(message, headers=headers)
    error.status = exc.code or 500
    return error_response(error)


def _unexpected_error(exc):
    log.exception("Unexpected error on %s %s", request.method, request.path)
    return error_response(errors.ProxyError(
        f"The proxy hit an internal error; the log has the details under request id {g.get('request_id')}."))
