"""JSON and event-stream responses, shared by the front doors and the error handlers."""
from __future__ import annotations

import json

from flask import current_app, request

from .errors import InvalidRequest

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def json_response(payload, status=200, headers=None):
    return current_app.response_class(json.dumps(payload), status=status, headers=headers,
                                      mimetype="application/json")


def sse_response(frames, headers=None):
    """Return a streamed text/event-stream response of frames (an iterable of str)."""
    return current_app.response_class(frames, headers={**SSE_HEADERS, **(headers or {})},
                                      mimetype="text/event-stream")


def sse_data(payload):
    """Return one SSE frame whose data is payload as JSON."""
    return f"data: {json.dumps(payload)}\n\n"


def sse_event(name, payload):
    """Return one SSE frame with an `event:` line naming it, and payload as JSON data."""
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n"


def read_body(operation_id):
    """Return the request's JSON object body, validated against the operation's schema in the spec."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest(f"The request body must be a JSON object (see the API reference for {request.path}).")
    current_app.extensions["spec"].validate_request(operation_id, body)
    return body


def cost_header(answer):
    """Return the x-claude-cost-usd header of an answer whose cost the CLI reported, else None."""
    if answer.cost is None:
        return None
    return {"x-claude-cost-usd": f"{answer.cost:.10f}".rstrip("0").rstrip(".")}
