"""The proxy's own key: when PROXY_API_KEY is set, /v1/* requires it, in the header the API's clients send."""
from __future__ import annotations

import hmac

from flask import current_app, request

from . import api, errors


def require_key():
    """Raise Unauthorized unless the request carries the proxy's key (or none is set, or it is not /v1/)."""
    key = current_app.config["SETTINGS"].api_key
    if not key or not request.path.startswith("/v1/"):
        return
    door = api.door_for(request)
    if not hmac.compare_digest(door.presented_key(request.headers).encode(), key.encode()):
        raise errors.Unauthorized(door.unauthorized)
