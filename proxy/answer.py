"""Build the model's answer from the CLI's stream-json events, and shape it as OpenAI objects.

Pure: events in, data out. Only the first model turn of a run is the answer; the CLI's own
follow-up turns (such as its automatic continuation after max_tokens) are never forwarded.
"""
from __future__ import annotations

import dataclasses
import json
import uuid

from . import tools

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_use", "refusal": "content_filter", "pause_turn": "stop"}


@dataclasses.dataclass
class Delta:
    """A piece of the answer, ready to forward."""

    content: str = ""
    reasoning: str = ""


class StopMatcher:
    """Cut streamed text at the first stop sequence, holding back what may be the start of one."""

    def __init__(self, stops=()):
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.hit = False

    def feed(self, text):
        """Return the part of text that can be forwarded now."""
        if not self.stops or self.hit:
            return "" if self.hit else text
        buffer = self.pending + text
        found = [i for i in (buffer.find(s) for s in self.stops) if i >= 0]
        if found:
            self.hit, self.pending = True, ""
            return buffer[:min(found)]
        keep = max((n for s in self.stops for n in range(1, len(s)) if buffer.endswith(s[:n])), default=0)
        self.pending = buffer[len(buffer) - keep:] if keep else ""
        return buffer[:len(buffer) - keep]

    def flush(self):
        """Return what was held back, once the text is over."""
        rest, self.pending = self.pending, ""
        return rest


class Answer:
    """The state of one run's answer, advanced by read(event)."""

    def __init__(self, requested_model, stop=None, plan=None):
        self.model = requested_model
        self.stopper = StopMatcher([stop] if isinstance(stop, str) else stop or ())
        self.plan = plan if plan is not None and plan.schema is not None else None  # structured output asked
        self.started = False  # the model's first message has begun
        self.turn_over = False  # its first message has ended: later turns are the CLI's own
        self.finish_reason = None
        self.text = []
        self.reasoning = []
        self.turn_usage = {}
        self.result = None
        self.error_category = None  # the CLI's own class of an API failure (rate_limit, ...)
        self.tool_called = False  # the model called a tool the CLI would answer itself
        self.output_error = None  # why the CLI last refused the model's structured output
        self.tool_calls = []
        self.abandoned = False  # the CLI withdrew text it had streamed (a broken stream)

    @property
    def ends_run(self):
        """True when the answer is over but the CLI would go on: the proxy must end the run.

        At a stop sequence; at max_tokens, where the CLI would ask the model to continue; and at a
        tool call, which the CLI would answer itself (it has no tools) and call the model again.
        """
        return self.result is None and (self.stopper.hit or self.finish_reason == "length" or self.tool_called)

    @property
    def succeeded(self):
        """True when the run gave an answer: a successful result, or (tool_choice "auto") a text answer
        that the CLI then found missing its structured output."""
        if self.result is None or self.abandoned:
            return False
        if not self.result.get("is_error"):
            return self.plan is None or self.result.get("structured_output") is not None
        return bool(self.plan and self.plan.text_allowed and self.result.get("subtype") == "error_max_turns"
                    and self.finish_reason == "stop")

    @property
    def complete(self):
        """True when nothing the CLI prints later can change the answer."""
        return self.result is not None or self.ends_run

    @property
    def openai_finish_reason(self):
        if self.tool_calls:
            return "tool_calls"
        # A call of a tool the client did not offer ends the answer like a stop does.
        return "stop" if self.finish_reason in (None, "tool_use") else self.finish_reason

    def read(self, event):
        """Take one CLI event; return the Deltas it adds to the answer."""
        kind = event.get("type")
        if kind == "result":
            self.result = event
            if self.plan and self.plan.kind == "tools" and self.succeeded:
                self.tool_calls = tools.to_tool_calls(event.get("structured_output"), new_call_id)
            return self._finish_text()
        if kind == "assistant" and event.get("is_api_error_message"):
            self.error_category = event.get("error") or "unknown"
        elif kind == "assistant" and self.started and not self.turn_over and self._calls_a_foreign_tool(event):
            # The CLI prints the whole tool call before the turn's message_delta, and runs it (as an
            # unknown tool) and calls the model again at once: the answer ends here.
            self.finish_reason, self.turn_over, self.tool_called = "tool_use", True, True
            return self._finish_text()
        if kind == "user":
            self._read_tool_results(event)
        if kind == "system" and event.get("subtype") == "init" and not self.started:
            self.model = event.get("model") or self.model
        if kind == "stream_event" and event.get("abandoned_blocks"):
            self.abandoned = True  # what was streamed is not the answer; a retry would replace it
        if kind != "stream_event" or self.turn_over or self.complete:
            return []
        return self._read_stream_event(event.get("event") or {})

    def _read_stream_event(self, event):
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.started = True
            self.model = message.get("model") or self.model
            self.turn_usage = dict(message.get("usage") or {})
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._add_text(delta.get("text", ""))
            if delta.get("type") == "thinking_delta":
                self.reasoning.append(delta.get("thinking", ""))
                return [Delta(reasoning=delta.get("thinking", ""))]
        elif kind == "message_delta":
            self.turn_usage.update(event.get("usage") or {})
            reason = (event.get("delta") or {}).get("stop_reason")
            self.finish_reason = FINISH_REASONS.get(reason, "stop") if reason else self.finish_reason
            return self._finish_text() if self.finish_reason == "length" else []
        elif kind == "message_stop":
            self.turn_over = True
        return []

    def _calls_a_foreign_tool(self, event):
        blocks = (event.get("message") or {}).get("content") or ()
        return any(b.get("type") == "tool_use" and not (self.plan and b.get("name") == tools.STRUCTURED_TOOL)
                   for b in blocks)

    def _read_tool_results(self, event):
        for block in (event.get("message") or {}).get("content") or ():
            if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("is_error"):
                content = block.get("content")
                self.output_error = content if isinstance(content, str) else json.dumps(content)

    def _add_text(self, text):
        if self.plan and self.plan.kind == "json":
            return []  # a JSON answer's content is the accepted JSON alone, not text around it
        forward = self.stopper.feed(text)
        if self.stopper.hit:
            self.finish_reason = "stop"
        if forward:
            self.text.append(forward)
            return [Delta(content=forward)]
        return []

    def _finish_text(self):
        rest = self.stopper.flush()
        if rest:
            self.text.append(rest)
            return [Delta(content=rest)]
        return []

    @property
    def content(self):
        """The answer's text; for a JSON answer, the JSON; null when it is only tool calls."""
        if self.plan and self.plan.kind == "json" and self.succeeded:
            return tools.to_content(self.result["structured_output"], self.plan)
        text = "".join(self.text)
        return None if self.tool_calls and not text else text

    @property
    def cost(self):
        return (self.result or {}).get("total_cost_usd")

    def usage(self):
        """Return OpenAI usage: prompt tokens count cache reads and writes, as the API bills them."""
        counts = (self.result or {}).get("usage") if self.result and not self.result.get("is_error") else None
        counts = counts or self.turn_usage
        cached = counts.get("cache_read_input_tokens") or 0
        prompt = (counts.get("input_tokens") or 0) + (counts.get("cache_creation_input_tokens") or 0) + cached
        completion = counts.get("output_tokens") or 0
        reasoning = (counts.get("output_tokens_details") or {}).get("thinking_tokens") or 0
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
                "completion_tokens_details": {"reasoning_tokens": reasoning}}


def new_call_id():
    return "call_" + uuid.uuid4().hex[:24]


def new_id():
    return "chatcmpl-" + uuid.uuid4().hex


def completion(answer, completion_id, created, reasoning=False):
    """Return the chat.completion object for a finished answer (with its thinking if reasoning)."""
    message = {"role": "assistant", "content": answer.content, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    if reasoning and answer.reasoning:
        message["reasoning_content"] = "".join(answer.reasoning)
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": answer.model,
        "choices": [{"index": 0, "logprobs": None, "finish_reason": answer.openai_finish_reason,
                     "message": message}],
        "usage": answer.usage(),
    }


def chunk(completion_id, created, model, delta=None, finish_reason=None, usage=None):
    """Return one chat.completion.chunk; with usage and no delta, the final usage chunk."""
    choices = [] if usage is not None and delta is None else [
        {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}]
    body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return body
