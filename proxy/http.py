"""JSON responses and error envelopes, shared by the views and the error handlers."""
from __future__ import annotations

import json

from flask import current_app


def json_response(payload, status=200, headers=None):
    return current_app.response_class(json.dumps(payload), status=status, headers=headers,
                                      mimetype="application/json")


def error_response(error):
    return json_response(error.envelope(), error.status, error.headers)
