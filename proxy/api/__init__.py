"""The front doors: one module per API, each owning its requests, the wire shape of its answers,
its error envelope and the header its clients send the key in."""
from __future__ import annotations

import dataclasses
from typing import Callable

from flask import request

from . import anthropic, anthropic_messages, models, openai, openai_chat, openai_responses


@dataclasses.dataclass(frozen=True)
class FrontDoor:
    name: str
    views: dict  # operationId -> view function
    error_response: Callable  # ProxyError -> response in this API's envelope
    presented_key: Callable  # request headers -> the key the client sent ("" if none)
    unauthorized: str  # what a client without the right key is told
    paths: tuple = ()  # path prefixes whose unknown routes answer in this door's envelope
    header: str | None = None  # a request header that brings shared and unknown routes to this door


OPENAI = FrontDoor("openai", {"createChatCompletion": openai_chat.create_chat_completion,
                              "listModels": models.list_models, "retrieveModel": models.retrieve_model},
                   openai.error_response, openai.bearer, openai.UNAUTHORIZED)
RESPONSES = FrontDoor("openai-responses", {"createResponse": openai_responses.create_response,
                                           "getResponse": openai_responses.get_response,
                                           "deleteResponse": openai_responses.delete_response,
                                           "listInputItems": openai_responses.list_input_items},
                      openai.error_response, openai.bearer, openai.UNAUTHORIZED, paths=("/v1/responses",))
ANTHROPIC = FrontDoor("anthropic", {"createMessage": anthropic_messages.create_message,
                                    "countMessageTokens": anthropic_messages.count_message_tokens,
                                    "listModels": models.list_anthropic_models,
                                    "retrieveModel": models.retrieve_anthropic_model},
                      anthropic.error_response, anthropic.presented_key, anthropic.UNAUTHORIZED,
                      paths=("/v1/messages",), header=anthropic.VERSION_HEADER)
DOORS = (OPENAI, RESPONSES, ANTHROPIC)
SHARED = ("listModels", "retrieveModel")  # routes every door serves, each in its own shape
BY_OPERATION = {operation_id: door for door in DOORS for operation_id in door.views if operation_id not in SHARED}


def door_for(request):
    """Return the front door a request came through: by its route, else by a header its API's clients
    send, else by its path; OpenAI's by default."""
    door = BY_OPERATION.get(request.endpoint)
    if door is None:
        door = next((d for d in DOORS if d.header and d.header in request.headers), None)
    if door is None:
        door = next((d for d in DOORS if d.paths and request.path.startswith(d.paths)), OPENAI)
    return door


def _shared(operation_id):
    """Return the view of a shared route: the view of that operation at the request's door."""
    def view(**arguments):
        return door_for(request).views[operation_id](**arguments)

    return view


VIEWS = {**{op: view for door in DOORS for op, view in door.views.items()}, **{op: _shared(op) for op in SHARED}}
