"""POST /v1/chat/completions: the OpenAI Chat Completions front door.

The request becomes an Ask (openai_chat_input), the run driver runs it, and the answer is shaped
here as a chat.completion object or as chat.completion.chunk events ending in `data: [DONE]`.
"""
from __future__ import annotations

import time
import uuid

from flask import current_app, request

from .. import conversation, driver, images
from ..answer import Answer
from ..http import cost_header, json_response, read_body, sse_data, sse_response
from . import openai, openai_chat_input

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                  "refusal": "content_filter"}
DONE = "data: [DONE]\n\n"


def create_chat_completion():
    settings = current_app.config["SETTINGS"]
    body = read_body("createChatCompletion")
    ask = images.resolve(openai_chat_input.to_ask(body, settings), settings)
    cli_input = conversation.to_cli_input(ask, settings)
    answer = Answer(cli_input.model, ask.stop, ask.plan)
    run = driver.Run(current_app.extensions["manager"], settings, cli_input, answer,
                     driver.client_watch(request.environ), follow_up=conversation.follow_up(ask, settings))
    if body.get("stream"):
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        return sse_response(driver.stream(run, ChatStream(answer, include_usage, settings.reasoning)))
    driver.whole(run)
    response = json_response(completion(answer, new_id(), int(time.time()), reasoning=settings.reasoning),
                             headers=cost_header(answer))
    response.call_on_close(run.close)
    return response


def new_id():
    return "chatcmpl-" + uuid.uuid4().hex


def finish_reason(answer):
    return FINISH_REASONS.get(answer.stop_reason, "stop")


def tool_calls(answer):
    """Return the answer's function calls as OpenAI tool_calls, each with a new id."""
    return [{"id": openai.new_call_id(), "type": "function",
             "function": {"name": call["name"], "arguments": openai.arguments_text(call)}}
            for call in answer.tool_calls]


def content(answer):
    """The message's content: the text (for a JSON answer, the JSON); null when it is only tool calls."""
    text = answer.content
    return None if answer.tool_calls and not text else text


def usage(answer):
    """Return OpenAI usage: prompt tokens count cache reads and writes, as the API bills them."""
    tokens = openai.token_counts(answer)
    return {"prompt_tokens": tokens["input"], "completion_tokens": tokens["output"],
            "total_tokens": tokens["input"] + tokens["output"],
            "prompt_tokens_details": {"cached_tokens": tokens["cached"]},
            "completion_tokens_details": {"reasoning_tokens": tokens["reasoning"]}}


def completion(answer, completion_id, created, reasoning=False):
    """Return the chat.completion object for a finished answer (with its thinking if reasoning)."""
    message = {"role": "assistant", "content": content(answer), "refusal": None}
    calls = tool_calls(answer)
    if calls:
        message["tool_calls"] = calls
    if reasoning and answer.reasoning:
        message["reasoning_content"] = "".join(answer.reasoning)
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": answer.model,
        "choices": [{"index": 0, "logprobs": None, "finish_reason": finish_reason(answer), "message": message}],
        "usage": usage(answer),
    }


def chunk(completion_id, created, model, delta=None, finish=None, usage=None):
    """Return one chat.completion.chunk; with usage and no delta, the final usage chunk."""
    choices = [] if usage is not None and delta is None else [
        {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]
    body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return body


class ChatStream(driver.Encoder):
    """chat.completion.chunk events: the role first, text (and thinking) as it comes, then what the
    CLI accepted at the end (a JSON answer, tool calls), the finish reason, usage, [DONE]."""

    def __init__(self, answer, include_usage=False, reasoning=False):
        self.answer, self.include_usage, self.reasoning = answer, include_usage, reasoning
        self.id, self.created = new_id(), int(time.time())

    def _chunk(self, delta, finish=None):
        return sse_data(chunk(self.id, self.created, self.answer.model, delta, finish))

    def open(self):
        yield self._chunk({"role": "assistant", "content": ""})

    def piece(self, delta):
        if delta.content:
            yield self._chunk({"content": delta.content})
        elif delta.reasoning and self.reasoning:
            yield self._chunk({"reasoning_content": delta.reasoning})

    def finish(self):
        if self.answer.plan and self.answer.plan.kind == "json":
            yield self._chunk({"content": self.answer.content})
        for index, call in enumerate(tool_calls(self.answer)):
            function = call["function"]
            yield self._chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                               "function": {"name": function["name"], "arguments": ""}}]})
            yield self._chunk({"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]})
        yield self._chunk({}, finish_reason(self.answer))
        if self.include_usage:
            yield sse_data(chunk(self.id, self.created, self.answer.model, usage=usage(self.answer)))
        yield DONE

    def fail(self, error):
        yield sse_data(openai.envelope(error))
        yield DONE
