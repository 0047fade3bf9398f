"""POST /v1/messages (and /v1/messages/count_tokens): the Anthropic Messages API front door.

The request becomes an Ask (anthropic_messages_input), the run driver runs it, and the answer is
shaped here as a `message` object, or streamed as Anthropic's events: message_start, then each
content block's content_block_start, deltas and content_block_stop, then message_delta (the stop
reason and usage) and message_stop; `ping` while the CLI is silent, `error` if it fails mid-stream.
"""
from __future__ import annotations

import json
import uuid

from flask import current_app, request

from .. import conversation, driver, errors, images
from ..answer import Answer
from ..http import cost_header, json_response, read_body, sse_event, sse_response
from . import anthropic, anthropic_messages_input

COUNTS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
EMPTY_BLOCKS = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": "", "signature": ""}}
DELTAS = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking")}
NO_COUNT = ("Token counting is not available through this proxy: the Claude CLI has no exact count of a request's "
            "tokens (its context-usage report adds up per-part counts of its own prompt, and estimates when the "
            "counting API fails), and an estimate is not given as a count. Each message's usage is exact.")


def create_message():
    settings = current_app.config["SETTINGS"]
    body = read_body("createMessage")
    ask = images.resolve(anthropic_messages_input.to_ask(body, settings), settings)
    cli_input = conversation.to_cli_input(ask, settings)
    answer = Answer(cli_input.model, body.get("stop_sequences"), ask.plan)
    run = driver.Run(current_app.extensions["manager"], settings, cli_input, answer,
                     driver.client_watch(request.environ), follow_up=conversation.follow_up(ask, settings))
    thinking = shows_thinking(body.get("thinking"))
    if body.get("stream"):
        encoder = MessageStream(answer, thinking, anthropic.request_id())
        return sse_response(driver.stream(run, encoder), headers=anthropic.id_header())
    driver.whole(run)
    response = json_response(message(answer, new_id(), thinking),
                             headers={**(cost_header(answer) or {}), **anthropic.id_header()})
    response.call_on_close(run.close)
    return response


def count_message_tokens():
    """POST /v1/messages/count_tokens: a clear 404, since the CLI cannot count exactly (Claude Code then estimates)."""
    raise errors.NotFound(NO_COUNT)


def shows_thinking(thinking):
    """True when the client asked to see the model's thinking (enabled or adaptive, not display omitted)."""
    thinking = thinking or {}
    return thinking.get("type") in ("enabled", "adaptive") and thinking.get("display") != "omitted"


def new_id():
    return "msg_" + uuid.uuid4().hex[:24]


def new_tool_use_id():
    return "toolu_" + uuid.uuid4().hex[:24]


def usage(answer):
    """Return the Messages API usage: input, cache writes, cache reads and output tokens, as the CLI counted them."""
    counts = answer.counts()
    return {name: counts[name] for name in COUNTS}


def tool_uses(answer):
    """Return the answer's tool calls as tool_use blocks, each with a new id the client answers to."""
    return [{"type": "tool_use", "id": new_tool_use_id(), "name": call["name"], "input": call["arguments"]}
            for call in answer.tool_calls]


def content(answer, thinking=False):
    """Return the message's content blocks: thinking (if shown), text, then tool_use."""
    blocks = []
    if thinking and answer.reasoning:
        blocks.append(EMPTY_BLOCKS["thinking"] | {"thinking": "".join(answer.reasoning)})
    if answer.content:
        blocks.append({"type": "text", "text": answer.content})
    return blocks + tool_uses(answer)


def message(answer, message_id, thinking=False, blocks=None):
    """Return the `message` object for a finished answer (or, with blocks=[], the one message_start carries)."""
    started = blocks is not None
    return {"id": message_id, "type": "message", "role": "assistant", "model": answer.model,
            "content": content(answer, thinking) if blocks is None else blocks,
            "stop_reason": None if started else answer.stop_reason,
            "stop_sequence": None if started else answer.stop_sequence, "usage": usage(answer)}


class MessageStream(driver.Encoder):
    """Anthropic's stream events: one content block open at a time, text and thinking as they come,
    what the CLI accepted at the end (a JSON answer, tool_use blocks), then the stop reason and usage."""

    def __init__(self, answer, thinking=False, request_id=""):
        self.answer, self.thinking, self.request_id = answer, thinking, request_id
        self.id = new_id()
        self.index = -1  # the index of the last block begun
        self.open_kind = None  # the kind of the block still open, if any

    def open(self):
        yield sse_event("message_start", {"type": "message_start", "message": message(self.answer, self.id, blocks=[])})

    def piece(self, delta):
        if delta.content:
            yield from self._delta("text", delta.content)
        elif delta.reasoning and self.thinking:
            yield from self._delta("thinking", delta.reasoning)

    def _delta(self, kind, text):
        if self.open_kind != kind:
            yield from self._close()
            yield from self._start(EMPTY_BLOCKS[kind])
            self.open_kind = kind
        delta_type, field = DELTAS[kind]
        yield sse_event("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                                "delta": {"type": delta_type, field: text}})

    def _start(self, block):
        self.index += 1
        yield sse_event("content_block_start", {"type": "content_block_start", "index": self.index,
                                                "content_block": block})

    def _close(self):
        if self.open_kind is not None:
            self.open_kind = None
            yield sse_event("content_block_stop", {"type": "content_block_stop", "index": self.index})

    def keepalive(self):
        return sse_event("ping", {"type": "ping"})

    def finish(self):
        if self.answer.plan and self.answer.plan.kind == "json":
            yield from self._delta("text", self.answer.content)
        yield from self._close()
        for block in tool_uses(self.answer):
            yield from self._start(block | {"input": {}})
            yield sse_event("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"], ensure_ascii=False)}})
            yield sse_event("content_block_stop", {"type": "content_block_stop", "index": self.index})
        yield sse_event("message_delta", {"type": "message_delta", "usage": usage(self.answer), "delta": {
            "stop_reason": self.answer.stop_reason, "stop_sequence": self.answer.stop_sequence}})
        yield sse_event("message_stop", {"type": "message_stop"})

    def fail(self, error):
        yield sse_event("error", anthropic.envelope(error, self.request_id))
