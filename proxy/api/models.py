"""GET /v1/models and /v1/models/{model}: the models the CLI can be asked for."""
from __future__ import annotations

import re

from flask import current_app

from .. import errors
from ..http import json_response

# The aliases the CLI resolves to its latest models (`claude --help`, --model); full claude-* ids
# pass through to the API unchanged.
ALIASES = ("haiku", "sonnet", "opus", "fable")
FULL_ID = re.compile(r"^claude-[a-z0-9][a-z0-9.\-]*(\[1m\])?$")


def _model(model_id):
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "anthropic"}


def list_models():
    default = current_app.config["SETTINGS"].model
    ids = ALIASES + (() if default in ALIASES else (default,))
    return json_response({"object": "list", "data": [_model(i) for i in ids]})


def retrieve_model(model):
    if model in ALIASES or model == current_app.config["SETTINGS"].model or FULL_ID.match(model):
        return json_response(_model(model))
    raise errors.NotFound(f"The model {model!r} does not exist. Use one of {', '.join(ALIASES)} or a full "
                          "claude-* model id.", param="model", code="model_not_found")
