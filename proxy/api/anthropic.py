"""What the Anthropic front door shares: the error envelope and its types, the key headers, request-id."""
from __future__ import annotations

from flask import g

from ..http import json_response
from . import openai

# The Messages API's error type for each status the proxy answers with; the status is kept.
TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
         504: "timeout_error", 529: "overloaded_error"}
# Proxy errors whose Anthropic identity is not their status's: code -> (status, type).
BY_CODE = {"overloaded": (529, "overloaded_error"), "insufficient_quota": (429, "billing_error"),
           "server_at_capacity": (503, "overloaded_error"), "server_shutting_down": (503, "overloaded_error")}
UNAUTHORIZED = ("Invalid API key. Send the proxy's key (PROXY_API_KEY) as 'x-api-key: <key>' or "
                "'Authorization: Bearer <key>'.")
VERSION_HEADER = "anthropic-version"  # sent by every Anthropic client: it brings shared routes to this door


def status_and_type(error):
    """Return the (status, Anthropic error type) a ProxyError is answered with."""
    if error.code in BY_CODE:
        return BY_CODE[error.code]
    default = "invalid_request_error" if error.status < 500 else "api_error"
    return error.status, TYPES.get(error.status, default)


def envelope(error, request_id):
    """Return {"type": "error", "error": {"type", "message"}, "request_id"} for a ProxyError."""
    _, kind = status_and_type(error)
    return {"type": "error", "error": {"type": kind, "message": error.message}, "request_id": request_id}


def error_response(error):
    status, _ = status_and_type(error)
    return json_response(envelope(error, request_id()), status, {**error.headers, **id_header()})


def request_id():
    """The current request's id (requestlog gives it); a stream, read outside the request, keeps its own copy."""
    return g.get("request_id", "")


def id_header():
    """The request-id header Anthropic's API sends with every response."""
    return {"request-id": request_id()}


def presented_key(headers):
    """Return the key of an `x-api-key` header, else of an `Authorization: Bearer` header (the SDKs send
    either), else ""."""
    return headers.get("x-api-key") or openai.bearer(headers)
