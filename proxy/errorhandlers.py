"""Every error becomes the envelope of the front door the request came through."""
from __future__ import annotations

import logging

from flask import g, request
from werkzeug.exceptions import HTTPException

from . import api, errors

log = logging.getLogger("proxy")
HTTP_ERRORS = {404: errors.NotFound, 405: errors.MethodNotAllowed, 413: errors.PayloadTooLarge,
               415: errors.UnsupportedMediaType}


def register(app):
    app.register_error_handler(errors.ProxyError, proxy_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def proxy_error(error):
    return api.door_for(request).error_response(error)


def http_error(exc):
    """Flask's own errors (unknown route, wrong method, body too large) as envelopes."""
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
    return proxy_error(error)


def unexpected_error(exc):
    log.exception("Unexpected error on %s %s", request.method, request.path)
    return proxy_error(errors.ProxyError(
        f"The proxy hit an internal error; the log has the details under request id {g.get('request_id')}."))
