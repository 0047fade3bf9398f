"""GET /v1/models and /v1/models/{model}: the models the CLI can be asked for, in each API's shape."""
from __future__ import annotations

import re

from flask import current_app, request

from .. import errors
from ..http import json_response
from . import anthropic

# The aliases the CLI resolves to its latest models (`claude --help`, --model); full claude-* ids
# pass through to the API unchanged.
ALIASES = ("haiku", "sonnet", "opus", "fable")
FULL_ID = re.compile(r"^claude-[a-z0-9][a-z0-9.\-]*(\[1m\])?$")
UNKNOWN_DATE = "1970-01-01T00:00:00Z"  # the CLI does not say when a model was released: the API's epoch value
PAGE_SIZE, MAX_PAGE_SIZE = 20, 1000


def _model(model_id):
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "anthropic"}


def _anthropic_model(model_id):
    name = f"Claude {model_id.title()} (the CLI's latest)" if model_id in ALIASES else model_id
    return {"type": "model", "id": model_id, "display_name": name, "created_at": UNKNOWN_DATE, "lifecycle": "active"}


def _ids():
    default = current_app.config["SETTINGS"].model
    return ALIASES + (() if default in ALIASES else (default,))


def _known(model):
    """Return model if the CLI can be asked for it, else raise NotFound."""
    if model in ALIASES or model == current_app.config["SETTINGS"].model or FULL_ID.match(model):
        return model
    raise errors.NotFound(f"The model {model!r} does not exist. Use one of {', '.join(ALIASES)} or a full "
                          "claude-* model id.", param="model", code="model_not_found")


def list_models():
    page, _ = _page()
    return json_response({"object": "list", "data": [_model(i) for i in page]})


def retrieve_model(model):
    return json_response(_model(_known(model)))


def list_anthropic_models():
    page, more = _page()
    return json_response({"data": [_anthropic_model(i) for i in page], "has_more": more,
                          "first_id": page[0] if page else None, "last_id": page[-1] if page else None},
                         headers=anthropic.id_header())


def _page():
    """Return (ids, more after them) of the page asked for: `limit` models after `after_id` or before
    `before_id`, as Anthropic's clients page (OpenAI's ask for none, and get them all)."""
    ids, size = list(_ids()), _page_size()
    if "after_id" in request.args:
        ids = ids[_position(ids, "after_id") + 1:]
    if "before_id" in request.args:
        ids = ids[:_position(ids, "before_id")]
    page = ids[-size:] if "before_id" in request.args else ids[:size]
    return page, len(ids) > len(page)


def _page_size():
    limit = request.args.get("limit", str(PAGE_SIZE))
    if not re.fullmatch(r"[0-9]{1,4}", limit) or not 1 <= int(limit) <= MAX_PAGE_SIZE:
        raise errors.InvalidRequest(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.", param="limit")
    return int(limit)


def _position(ids, name):
    if request.args[name] not in ids:
        raise errors.InvalidRequest(f"{name} {request.args[name]!r} is not one of the models listed here.",
                                    param=name)
    return ids.index(request.args[name])


def retrieve_anthropic_model(model):
    return json_response(_anthropic_model(_known(model)), headers=anthropic.id_header())
