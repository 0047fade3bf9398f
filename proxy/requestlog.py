"""Each request's id, given before it is handled and sent back with its response."""
from __future__ import annotations

import uuid

from flask import g


def start():
    g.request_id = "req_" + uuid.uuid4().hex


def tag(response):
    response.headers["x-request-id"] = g.get("request_id", "")
    return response
