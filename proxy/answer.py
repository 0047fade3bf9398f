"""The model's answer, read from the CLI's stream-json events: neutral, no API's wire format.

Pure: events in, data out. Only the first model turn of a run is the answer; the CLI's own
follow-up turns (such as its automatic continuation after max_tokens) are never forwarded.
`settle` is the one place that decides whether a finished run gave an answer or an error.
"""
from __future__ import annotations

import dataclasses
import json

from . import failures, tools
from .cli import parse_line

# Stop reasons are the Messages API's: end_turn, max_tokens, stop_sequence, tool_use (the
# client's functions were called), refusal, pause_turn.


@dataclasses.dataclass
class Delta:
    """A piece of the answer, ready to forward: text, or thinking."""

    content: str = ""
    reasoning: str = ""


class StopMatcher:
    """Cut streamed text at the first stop sequence, holding back what may be the start of one."""

    def __init__(self, stops=()):
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.hit = None  # the stop sequence that ended the text

    def feed(self, text):
        """Return the part of text that can be forwarded now."""
        if not self.stops or self.hit:
            return "" if self.hit else text
        buffer = self.pending + text
        found = [(i, s) for s in self.stops for i in [buffer.find(s)] if i >= 0]
        if found:
            at, self.hit = min(found, key=lambda f: f[0])
            self.pending = ""
            return buffer[:at]
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
        self.model_stop = None  # the stop reason the model gave for its first turn
        self.text = []
        self.reasoning = []
        self.turn_usage = {}
        self.result = None
        self.error_category = None  # the CLI's own class of an API failure (rate_limit, ...)
        self.tool_called = False  # the model called a tool the CLI would answer itself
        self.output_error = None  # why the CLI last refused the model's structured output
        self.abandoned = False  # the CLI withdrew text it had streamed (a broken stream)
        self.control_error = None  # the CLI refused a control request the proxy sent (its message)

    @property
    def ends_run(self):
        """True when the answer is over but the CLI would go on: the proxy must end the run.

        At a stop sequence; at max_tokens, where the CLI would ask the model to continue; and at a
        tool call, which the CLI would answer itself (it has no tools) and call the model again.
        """
        return self.result is None and bool(self.stopper.hit or self.model_stop == "max_tokens" or self.tool_called)

    @property
    def succeeded(self):
        """True when the run gave an answer: a successful result, or (tool_choice "auto") a text answer
        that the CLI then found missing its structured output."""
        if self.result is None or self.abandoned or self.control_error:
            return False
        structured = self.result.get("structured_output") is not None
        if not self.result.get("is_error") and (self.plan is None or structured):
            return True
        # A text answer where text is allowed: the CLI then either asked for structured output in a
        # turn it was not allowed (error_max_turns) or, after function results, did not ask at all.
        ended_in_text = self.stopper.hit or self.model_stop in ("end_turn", "stop_sequence", "pause_turn")
        text_answer = not self.result.get("is_error") or self.result.get("subtype") == "error_max_turns"
        return bool(self.plan and self.plan.text_allowed and ended_in_text and text_answer)

    @property
    def complete(self):
        """True when nothing the CLI prints later can change the answer."""
        return self.result is not None or self.ends_run

    @property
    def needs_exit(self):
        """True when the run may have failed: only the CLI's exit status can settle it."""
        return not (self.ends_run or self.succeeded)

    @property
    def tool_calls(self):
        """The client's functions the model called, as [{"name", "arguments"}] the CLI accepted."""
        if self.plan and self.plan.kind == "tools" and self.succeeded:
            return tools.calls_of(self.result.get("structured_output"))
        return []

    @property
    def structured(self):
        """The JSON value of an accepted JSON answer (response_format), else None."""
        if self.plan and self.plan.kind == "json" and self.succeeded:
            return tools.value_of(self.result["structured_output"], self.plan)
        return None

    @property
    def stop_reason(self):
        """Why the answer ended: end_turn, max_tokens, stop_sequence, tool_use or refusal."""
        if self.tool_calls:
            return "tool_use"
        if self.stopper.hit:
            return "stop_sequence"
        # A call of a tool the client did not offer ends the answer like the end of a turn.
        if self.model_stop in (None, "tool_use", "pause_turn", "stop_sequence"):
            return "end_turn"
        return self.model_stop

    @property
    def stop_sequence(self):
        return self.stopper.hit

    @property
    def content(self):
        """The answer's text (for a JSON answer, its JSON text)."""
        if self.plan and self.plan.kind == "json" and self.succeeded:
            return json.dumps(self.structured, ensure_ascii=False)
        return "".join(self.text)

    @property
    def cost(self):
        return (self.result or {}).get("total_cost_usd")

    def counts(self):
        """Return the token counts: input, output, cache reads and writes, thinking (the Messages API's names)."""
        counts = (self.result or {}).get("usage") if self.result and not self.result.get("is_error") else None
        counts = counts or self.turn_usage
        return {"input_tokens": counts.get("input_tokens") or 0,
                "output_tokens": counts.get("output_tokens") or 0,
                "cache_read_input_tokens": counts.get("cache_read_input_tokens") or 0,
                "cache_creation_input_tokens": counts.get("cache_creation_input_tokens") or 0,
                "thinking_tokens": (counts.get("output_tokens_details") or {}).get("thinking_tokens") or 0}

    def read(self, event):
        """Take one CLI event; return the Deltas it adds to the answer."""
        kind = event.get("type")
        if kind == "result":
            self.result = event
            return self._finish_text()
        if kind == "control_response" and (event.get("response") or {}).get("subtype") == "error":
            self.control_error = event["response"].get("error") or "error"
        if kind == "assistant" and event.get("is_api_error_message"):
            self.error_category = event.get("error") or "unknown"
        elif kind == "assistant" and self.started and not self.turn_over and self._calls_a_foreign_tool(event):
            # The CLI prints the whole tool call before the turn's message_delta, and runs it (as an
            # unknown tool) and calls the model again at once: the answer ends here.
            self.model_stop, self.turn_over, self.tool_called = "tool_use", True, True
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
            self.model_stop = (event.get("delta") or {}).get("stop_reason") or self.model_stop
            return self._finish_text() if self.model_stop == "max_tokens" else []
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


def replay(answer, lines):
    """Feed recorded stdout lines to answer until it is complete; return the lines that were not events."""
    other = []
    for line in lines:
        event = parse_line(line)
        if event is None:
            other.extend([line.rstrip()] if line.strip() else [])
            continue
        answer.read(event)
        if answer.complete:
            break
    return other


def settle(answer, returncode=None, stderr="", other_output=()):
    """Return the answer of a finished run, or raise the ProxyError its failure is classified as.

    returncode, stderr and other_output (stdout lines that were not events) are needed only when
    answer.needs_exit: a successful result or an answer the proxy ended is the whole answer.
    """
    if not answer.needs_exit:
        return answer
    raise failures.classify(failures.Outcome.of(answer, returncode, stderr, other_output))
