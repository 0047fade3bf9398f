"""An answer as an OpenAI `response` object, and as the typed events of a streamed one (pure).

Output items come in the order reasoning (when thinking is exposed), message, then the calls; a
stream opens each item before its deltas and closes it with its final form, and its last event
(`response.completed`, `response.incomplete` or `response.failed`) repeats the whole object.
"""
from __future__ import annotations

import json
import time

from .. import driver
from . import openai
from .openai_responses_input import item_id

STATUS = {"max_tokens": ("incomplete", "max_output_tokens"), "refusal": ("incomplete", "content_filter")}
ERROR_CODES = {"rate_limit_error": "rate_limit_exceeded"}  # the rest are server_error (the spec's enum is short)
END_EVENTS = {"completed": "response.completed", "incomplete": "response.incomplete", "failed": "response.failed"}


class Shape:
    """One response's id, its time, and what it repeats of its request."""

    def __init__(self, body, custom=(), reasoning=False):
        self.id, self.created_at = item_id("resp"), int(time.time())
        self.custom, self.reasoning = set(custom), reasoning
        self.ids = {"reasoning": item_id("rs"), "message": item_id("msg")}
        self.echo = {
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {}, "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
            "store": body.get("store") is not False, "temperature": body.get("temperature"),
            "top_p": body.get("top_p"), "text": {"format": _text_format(body)}, "tool_choice": _tool_choice(body),
            "tools": [_tool(t) for t in body.get("tools") or () if t.get("type") in ("function", "custom")],
            "truncation": "disabled",
        }

    def response(self, model, status, output, answer=None, error=None):
        """Return the response object; usage is there once the answer is (it is never null)."""
        ended = STATUS.get(answer.stop_reason) if answer is not None and status != "failed" else None
        body = {"id": self.id, "object": "response", "created_at": self.created_at, "status": status,
                "completed_at": int(time.time()) if status == "completed" else None, "error": error,
                "incomplete_details": {"reason": ended[1]} if ended else None, "model": model, "output": output,
                **self.echo}
        if answer is not None and status != "failed":
            body["usage"] = usage(answer)
        return body

    def finished(self, answer):
        """Return the response object of a settled answer."""
        status = STATUS.get(answer.stop_reason, ("completed",))[0]
        return self.response(answer.model, status, self.output(answer, status), answer)

    def output(self, answer, status="completed"):
        """Return the output items of a settled answer."""
        items = []
        if self.reasoning and answer.reasoning:
            items.append(reasoning_item(self.ids["reasoning"], "".join(answer.reasoning)))
        if answer.content or not answer.tool_calls:
            items.append(message_item(self.ids["message"], answer.content, status))
        return items + [self.call_item(call) for call in answer.tool_calls]

    def call_item(self, call):
        if call["name"] in self.custom:
            return {"type": "custom_tool_call", "id": item_id("ctc"), "call_id": openai.new_call_id(),
                    "name": call["name"], "input": call["arguments"].get("input", "")}
        return {"type": "function_call", "id": item_id("fc"), "call_id": openai.new_call_id(), "name": call["name"],
                "arguments": openai.arguments_text(call), "status": "completed"}


def _text_format(body):
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    return {k: text_format[k] for k in ("type", "name", "description", "schema", "strict") if k in text_format}


def _tool_choice(body):
    choice = body.get("tool_choice") or "auto"
    if isinstance(choice, str):
        return choice
    return {k: choice[k] for k in ("type", "name", "mode", "tools") if k in choice}


def _tool(tool):
    """Return a function or custom tool as a response repeats it."""
    if tool["type"] == "function":
        return {"type": "function", "name": tool["name"], "description": tool.get("description"),
                "parameters": tool.get("parameters"), "strict": tool.get("strict")}
    return {k: tool[k] for k in ("type", "name", "description", "format") if k in tool}


def text_part(text):
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(ident, text, status="completed"):
    return {"type": "message", "id": ident, "status": status, "role": "assistant", "content": [text_part(text)]}


def reasoning_item(ident, text):
    return {"type": "reasoning", "id": ident, "summary": [{"type": "summary_text", "text": text}]}


def usage(answer):
    tokens = openai.token_counts(answer)
    return {"input_tokens": tokens["input"],
            "input_tokens_details": {"cached_tokens": tokens["cached"], "cache_write_tokens": tokens["cache_write"]},
            "output_tokens": tokens["output"], "output_tokens_details": {"reasoning_tokens": tokens["reasoning"]},
            "total_tokens": tokens["input"] + tokens["output"]}


def error_object(error):
    return {"code": ERROR_CODES.get(error.type, "server_error"), "message": error.message}


class ResponsesStream(driver.Encoder):
    """The typed events of a streamed response, each with its sequence_number; keep(response) gets the last object."""

    def __init__(self, shape, answer, keep=lambda response: None):
        self.shape, self.answer, self.keep = shape, answer, keep
        self.id, self.sequence = shape.id, 0
        self.done = []  # the output items closed so far, in their final form
        self.open_kind, self.pieces = None, []  # the item streaming now ("reasoning" or "message"), its text

    def _event(self, kind, **fields):
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"

    def _at(self):
        return {"output_index": len(self.done)}

    def open(self):
        started = self.shape.response(self.answer.model, "in_progress", [])
        yield self._event("response.created", response=started)
        yield self._event("response.in_progress", response=started)

    def piece(self, delta):
        if delta.reasoning and self.shape.reasoning:
            yield from self._stream("reasoning", delta.reasoning)
        if delta.content:
            yield from self._stream("message", delta.content)

    def _stream(self, kind, text):
        if self.open_kind != kind:
            yield from self._close()
            yield from self._start(kind)
        self.pieces.append(text)
        ident = self.shape.ids[kind]
        if kind == "message":
            yield self._event("response.output_text.delta", item_id=ident, **self._at(), content_index=0, delta=text,
                              logprobs=[])
        else:
            yield self._event("response.reasoning_summary_text.delta", item_id=ident, **self._at(), summary_index=0,
                              delta=text)

    def _start(self, kind):
        self.open_kind, self.pieces, ident = kind, [], self.shape.ids[kind]
        if kind == "message":
            yield self._event("response.output_item.added", **self._at(), item={**message_item(ident, ""),
                                                                                "status": "in_progress", "content": []})
            yield self._event("response.content_part.added", item_id=ident, **self._at(), content_index=0,
                              part=text_part(""))
        else:
            yield self._event("response.output_item.added", **self._at(), item={**reasoning_item(ident, ""),
                                                                                "summary": []})
            yield self._event("response.reasoning_summary_part.added", item_id=ident, **self._at(), summary_index=0,
                              part={"type": "summary_text", "text": ""})

    def _close(self, status="completed"):
        kind, text = self.open_kind, "".join(self.pieces)
        if kind is None:
            return
        ident, self.open_kind = self.shape.ids[kind], None
        if kind == "message":
            item = message_item(ident, text, status)
            yield self._event("response.output_text.done", item_id=ident, **self._at(), content_index=0, text=text,
                              logprobs=[])
            yield self._event("response.content_part.done", item_id=ident, **self._at(), content_index=0,
                              part=text_part(text))
        else:
            item = reasoning_item(ident, text)
            yield self._event("response.reasoning_summary_text.done", item_id=ident, **self._at(), summary_index=0,
                              text=text)
            yield self._event("response.reasoning_summary_part.done", item_id=ident, **self._at(), summary_index=0,
                              part={"type": "summary_text", "text": text})
        yield self._event("response.output_item.done", **self._at(), item=item)
        self.done.append(item)

    def finish(self):
        final = self.shape.finished(self.answer)
        streamed = {item["id"] for item in self.done} | ({self.shape.ids[self.open_kind]} if self.open_kind else set())
        for item in final["output"]:
            kind = item["type"]
            if kind in ("message", "reasoning"):
                if item["id"] not in streamed:
                    text = item["content"][0]["text"] if kind == "message" else item["summary"][0]["text"]
                    yield from self._stream(kind, text) if text else self._start(kind)
                if self.open_kind == kind:
                    yield from self._close(item.get("status", "completed"))
            else:
                yield from self._close()
                yield from self._call(item)
        final["output"] = self.done
        self.keep(final)
        yield self._event(END_EVENTS[final["status"]], response=final)

    def _call(self, item):
        ident, custom = item["id"], item["type"] == "custom_tool_call"
        text = item["input"] if custom else item["arguments"]
        yield self._event("response.output_item.added", **self._at(),
                          item={**item, **({"input": ""} if custom else {"arguments": "", "status": "in_progress"})})
        if custom:
            yield self._event("response.custom_tool_call_input.delta", item_id=ident, **self._at(), delta=text)
            yield self._event("response.custom_tool_call_input.done", item_id=ident, **self._at(), input=text)
        else:
            yield self._event("response.function_call_arguments.delta", item_id=ident, **self._at(), delta=text)
            yield self._event("response.function_call_arguments.done", item_id=ident, **self._at(),
                              name=item["name"], arguments=text)
        yield self._event("response.output_item.done", **self._at(), item=item)
        self.done.append(item)

    def fail(self, error):
        yield from self._close("incomplete")
        failed = self.shape.response(self.answer.model, "failed", self.done, error=error_object(error))
        self.keep(failed)
        yield self._event("response.failed", response=failed)
