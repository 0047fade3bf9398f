"""/v1/responses: the OpenAI Responses front door, and the stored responses behind previous_response_id.

A request becomes an Ask (openai_responses_input), the run driver runs it, and the answer is shaped
as a `response` object or as its typed events (openai_responses_output). With `store` (the
default, as OpenAI's), the response and the items it was answered from are kept, so that a later
request can continue from it, and it can be read back, listed and deleted.
"""
from __future__ import annotations

import logging

from flask import current_app, request

from .. import conversation, driver, images
from ..answer import Answer
from ..errors import InvalidRequest, NotFound, ProxyError
from ..http import cost_header, json_response, read_body, sse_response
from . import openai_responses_input as responses_input
from .openai_responses_output import ResponsesStream, Shape

log = logging.getLogger("proxy")
CONTINUED = ("message", "function_call", "custom_tool_call")  # the output items a later request continues from
ORDERS = ("asc", "desc")


def create_response():
    settings = current_app.config["SETTINGS"]
    body = read_body("createResponse")
    earlier = _earlier(body.get("previous_response_id"))
    context = earlier + responses_input.items(body)
    ask = images.resolve(responses_input.to_ask(body, context, len(earlier), settings), settings)
    cli_input = conversation.to_cli_input(ask, settings)
    answer = Answer(cli_input.model, plan=ask.plan)
    shape = Shape(body, responses_input.custom_names(body), settings.reasoning)

    store = _store() if body.get("store") is not False else None

    def keep(response):
        """Store the response; the answer still reaches the client when the store fails."""
        try:
            if store is not None:
                store.put(response, context)
        except ProxyError as error:
            log.error("Response %s was not stored: %s", response["id"], error.message)

    run = driver.Run(current_app.extensions["manager"], settings, cli_input, answer,
                     driver.client_watch(request.environ), follow_up=conversation.follow_up(ask, settings))
    if body.get("stream"):
        return sse_response(driver.stream(run, ResponsesStream(shape, answer, keep)))
    driver.whole(run)
    response = shape.finished(answer)
    keep(response)
    reply = json_response(response, headers=cost_header(answer))
    reply.call_on_close(run.close)
    return reply


def get_response(response_id):
    return json_response(_stored(response_id)[0])


def delete_response(response_id):
    if not _store().delete(response_id):
        raise _missing(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


def list_input_items(response_id):
    """The items a stored response was answered from (earlier responses' included), a page at a time."""
    items = _stored(response_id)[1]
    limit, order, after = _page_query()
    if order == "desc":
        items = items[::-1]
    ids = [item["id"] for item in items]
    if after is not None:
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    return json_response({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                          "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})


def _page_query():
    args = request.args
    limit, order = args.get("limit", "20"), args.get("order", "desc")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise InvalidRequest("limit must be a whole number from 1 to 100.", param="limit")
    if order not in ORDERS:
        raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
    return int(limit), order, args.get("after")


def _earlier(response_id):
    """Return the items a new request continues from: the stored response's context, then its output."""
    if response_id is None:
        return []
    stored = _store().get(response_id)
    if stored is None:
        raise InvalidRequest(f"Previous response with id {response_id!r} not found (it was not stored, was deleted, "
                             "or is older than RESPONSES_RETENTION_DAYS).", param="previous_response_id",
                             code="previous_response_not_found")
    response, context = stored
    return context + [item for item in response["output"] if item["type"] in CONTINUED]


def _stored(response_id):
    stored = _store().get(response_id)
    if stored is None:
        raise _missing(response_id)
    return stored


def _missing(response_id):
    return NotFound(f"No response with id {response_id!r} is stored here.", param="response_id")


def _store():
    return current_app.extensions["responses_store"]
