"""What the OpenAI front doors share: the error envelope, the Bearer key, reasoning effort."""
from __future__ import annotations

from ..http import json_response

# OpenAI's reasoning effort values, as the CLI's --effort levels.
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}
UNAUTHORIZED = ("Incorrect API key provided. Send the proxy's key (PROXY_API_KEY) as "
                "'Authorization: Bearer <key>'.")


def envelope(error):
    """Return {"error": {"message", "type", "param", "code"}} for a ProxyError."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def error_response(error):
    return json_response(envelope(error), error.status, error.headers)


def bearer(headers):
    """Return the token of an `Authorization: Bearer <token>` header, or ""."""
    header = headers.get("Authorization", "")
    return header[7:] if header[:7].lower() == "bearer " else ""


def effort(value):
    return EFFORTS[value] if value else None
