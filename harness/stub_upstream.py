"""A loopback stand-in for the Anthropic Messages API, for recordings, integration tests and benchmarks.

The Claude CLI is pointed at it with ANTHROPIC_BASE_URL. Each request gets a Reply: the next one
queued with ``expect`` if any, else the one named by a ``[stub:NAME]`` marker in the last user
text, else a short text answer. Every request is kept in ``requests`` so tests can assert what
the model would have seen; harness/stub_model.py answers the CLI's StructuredOutput tool. Like the real API, it refuses histories with tool blocks but no tools,
and tool_use blocks not answered by tool_result blocks at the start of the next message.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from harness.stub_model import SCENARIOS, Reply, structured_schema
from proxy import loopback

_ids = itertools.count(1)
MARKER = re.compile(r"\[stub:([a-z_]+)\]")


def _last_user_text(body):
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
    return ""


def _all_user_text(body):
    # The CLI's own corrections come as later user messages: the marker is in an earlier one.
    return " ".join(_last_user_text({"messages": [m]}) for m in body.get("messages", ()) if m.get("role") == "user")


def api_rule_violation(body):
    """Return the 400 message the real Messages API gives for this body's tool blocks, or None."""
    messages = body.get("messages", [])
    blocks = [(i, b) for i, m in enumerate(messages) if isinstance(m.get("content"), list) for b in m["content"]]
    if any(b.get("type") in ("tool_use", "tool_result") for _, b in blocks) and not body.get("tools"):
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        ids = {b["id"] for b in message["content"] if b.get("type") == "tool_use"}
        if not ids:
            continue
        following = messages[i + 1]["content"] if i + 1 < len(messages) else []
        following = following if isinstance(following, list) else []
        answered = set()
        for block in following:
            if block.get("type") != "tool_result":
                break
            answered.add(block.get("tool_use_id"))
        if ids - answered:
            return (f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(sorted(ids - answered))}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message.")
    return None


class StubUpstream(loopback.Server):
    """Serve the stub on 127.0.0.1; use as a context manager."""

    def __init__(self, port=0):
        self.requests = []
        self._queue = []
        self._lock = threading.Lock()
        self.closed = threading.Event()
        super().__init__(port)

    def expect(self, *replies):
        """Queue replies for the next requests, in order, before markers are looked at."""
        with self._lock:
            self._queue.extend(replies)

    def reply_for(self, body):
        with self._lock:
            queued = self._queue.pop(0) if self._queue else None
        if queued is not None:
            return queued(body) if callable(queued) else queued
        violation = api_rule_violation(body)
        if violation:
            return Reply(kind="error", status=400, error_type="invalid_request_error", message=violation)
        markers = MARKER.findall(_all_user_text(body) if structured_schema(body) else _last_user_text(body))
        reply = SCENARIOS.get(markers[-1], Reply()) if markers else Reply()
        return reply(body) if callable(reply) else reply

    def __exit__(self, *exc):
        self.closed.set()
        super().__exit__(*exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        stub = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        stub.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
            return self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}})
        reply = stub.reply_for(body)
        try:
            getattr(self, "_" + reply.kind)(reply, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-answer (a killed CLI)

    do_GET = do_POST

    # --- reply kinds -------------------------------------------------------------------------

    def _error(self, reply, body):
        payload = {"type": "error", "error": {"type": reply.error_type, "message": reply.message}}
        self._json(reply.status, payload, reply.headers)

    def _drop(self, reply, body):
        self.close_connection = True
        self.connection.shutdown(2)

    def _hang(self, reply, body):
        self._wait_until_gone()

    def _stall(self, reply, body):
        if not body.get("stream"):
            return self._wait_until_gone()
        self._start_sse()
        self._event(_message_start(body, reply))
        self._wait_until_gone()

    def _text(self, reply, body):
        blocks = []
        if reply.thinking:
            blocks.append(("thinking", reply.thinking))
        if reply.text:
            blocks.append(("text", reply.text))
        for name, arguments in reply.tool_calls:
            blocks.append(("tool_use", (name, arguments)))
        stop = {"text": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens"}[
            "max_tokens" if reply.kind == "max_tokens" else ("tool_use" if reply.tool_calls else "text")]
        self._answer(reply, body, blocks, stop)

    _tool_use = _max_tokens = _text

    def _stream_error(self, reply, body):
        if not body.get("stream"):
            return self._error(Reply(kind="error", status=529, error_type="overloaded_error",
                                     message="stub stream error"), body)
        self._start_sse()
        self._event(_message_start(body, reply))
        self._event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        for piece in _split(reply.text, reply.chunks):
            self._event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        self._event({"type": "error", "error": {"type": "overloaded_error", "message": "stub stream error"}}, "error")
        self._end()

    # --- plumbing ----------------------------------------------------------------------------

    def _answer(self, reply, body, blocks, stop_reason):
        usage = _usage(body, reply)
        if not body.get("stream"):
            content = [_full_block(kind, value) for kind, value in blocks]
            message = _message_start(body, reply)["message"] | {"content": content, "stop_reason": stop_reason, "usage": usage}
            return self._json(200, message)
        self._start_sse()
        self._event(_message_start(body, reply))
        for index, (kind, value) in enumerate(blocks):
            start = _full_block(kind, value)
            start.update({"text": ""} if kind == "text" else {"thinking": ""} if kind == "thinking" else {"input": {}})
            self._event({"type": "content_block_start", "index": index, "content_block": start})
            for delta in _deltas(kind, value, reply.chunks):
                if reply.delay:
                    time.sleep(reply.delay)
                self._event({"type": "content_block_delta", "index": index, "delta": delta})
            self._event({"type": "content_block_stop", "index": index})
        self._event({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                     "usage": {"output_tokens": usage["output_tokens"]}})
        self._event({"type": "message_stop"})
        self._end()

    def _json(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_stub_{next(_ids)}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_sse(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", f"req_stub_{next(_ids)}")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, data, name=None):
        self.wfile.write(f"event: {name or data['type']}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _end(self):
        self.wfile.flush()

    def _wait_until_gone(self):
        """Hold the request open until the client leaves or the stub closes."""
        self.close_connection = True
        self.connection.settimeout(0.2)
        while not self.server.owner.closed.is_set():
            try:
                if self.connection.recv(1) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return


def _message_start(body, reply):
    usage = _usage(body, reply) | {"output_tokens": 1}
    return {"type": "message_start", "message": {
        "id": f"msg_stub_{next(_ids)}", "type": "message", "role": "assistant",
        "model": body.get("model", "claude-stub"), "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": usage}}


def _usage(body, reply):
    counts = {"input_tokens": max(1, len(json.dumps(body.get("messages", []))) // 4),
              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
              "output_tokens": max(1, len(reply.text) // 4 + len(reply.thinking) // 4 + 10 * len(reply.tool_calls))}
    return counts | reply.usage


def _full_block(kind, value):
    if kind == "text":
        return {"type": "text", "text": value}
    if kind == "thinking":
        return {"type": "thinking", "thinking": value, "signature": "c3R1Yi1zaWduYXR1cmU="}
    name, arguments = value
    return {"type": "tool_use", "id": f"toolu_stub_{next(_ids):04d}", "name": name, "input": arguments}


def _deltas(kind, value, chunks):
    if kind == "text":
        return [{"type": "text_delta", "text": p} for p in _split(value, chunks)]
    if kind == "thinking":
        return [{"type": "thinking_delta", "thinking": p} for p in _split(value, chunks)] + [
            {"type": "signature_delta", "signature": "c3R1Yi1zaWduYXR1cmU="}]
    return [{"type": "input_json_delta", "partial_json": p} for p in _split(json.dumps(value[1]), 2)]


def _split(text, chunks):
    """Split text into `chunks` pieces on word boundaries where it can."""
    words = re.findall(r"\S+\s*", text) or [text]
    size = max(1, -(-len(words) // max(1, chunks)))
    return ["".join(words[i:i + size]) for i in range(0, len(words), size)]


StubUpstream.handler = _Handler


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    with StubUpstream(port) as stub:
        print(f"stub upstream on {stub.url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
