"""A loopback stand-in for the Messages API that the proxy points its own CLI runs at (never a client's).

The proxy runs the CLI for itself at start-up (seeds.py) without spending anything upstream: this
answers every POST /v1/messages with one short streamed text and keeps the bodies it received.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENTS = (
    {"type": "message_start", "message": {"id": "msg_loopback", "type": "message", "role": "assistant",
                                          "model": "loopback", "content": [], "stop_reason": None,
                                          "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
)


class Server:
    """An HTTP server on 127.0.0.1 (port 0: any free one) while used as a context manager.

    Its handler finds this object as `self.server.owner`.
    """

    handler = None  # the BaseHTTPRequestHandler class

    def __init__(self, port=0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self.handler)
        self.server.daemon_threads = True
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Upstream(Server):
    """The loopback Messages API; `bodies` holds what it received."""

    def __init__(self):
        self.bodies = []
        super().__init__()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        try:
            self.server.owner.bodies.append(json.loads(raw))
        except ValueError:
            pass
        data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in EVENTS).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


Upstream.handler = _Handler
