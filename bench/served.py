"""The proxy side of the benchmark: `gunicorn proxy:app`, and a client on one kept-alive connection."""
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Proxy:
    """Send chat requests to a running proxy over one kept-alive connection."""

    def __init__(self, port, body):
        self.port = port
        self.body = body
        self.conn = None

    def _post(self, body):
        """Send body and return the response, reconnecting once if the server closed the idle connection."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            start = time.monotonic()
            try:
                self.conn.request("POST", "/v1/chat/completions", json.dumps(body),
                                  {"Content-Type": "application/json"})
                return start, self.conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def run(self):
        """Send a non-streamed request; return (time it was sent, time its whole body was in)."""
        start, resp = self._post(self.body)
        data = resp.read()
        done = time.monotonic()
        if resp.status != 200 or not json.loads(data)["choices"][0]["message"]["content"]:
            raise RuntimeError(f"proxy answered {resp.status}: {data[:300]!r}")
        return start, done

    def deltas(self):
        """Stream a request; return ([(arrival time, content)] of each chunk with content, [DONE] time)."""
        _, resp = self._post(self.body | {"stream": True})
        if resp.status != 200:
            raise RuntimeError(f"proxy answered {resp.status}: {resp.read()[:300]!r}")
        found, done = [], None
        while True:
            line = resp.readline()  # chunk-aware, returns as soon as a line is in
            arrived = time.monotonic()
            if not line:
                break
            if line.startswith(b"data: [DONE]"):
                done = arrived
                break
            if line.startswith(b"data: "):
                choices = json.loads(line[6:]).get("choices") or [{}]
                content = (choices[0].get("delta") or {}).get("content")
                if content:
                    found.append((arrived, content))
        resp.read()
        if done is None:
            raise RuntimeError("the stream ended without [DONE]")
        return found, done

    def close(self):
        if self.conn is not None:
            self.conn.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(env, port, log_path):
    """Run `gunicorn proxy:app` from the repo root until /health answers; always stop it."""
    with open(log_path, "wb") as log:
        # Its own session: a Ctrl-C here reaches this script only, which then stops the server in order.
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "proxy:app"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_healthy(proc, port, log_path)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_healthy(proc, port, log_path, limit=60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    with open(log_path, errors="replace") as f:
        tail = f.read()[-3000:]
    raise RuntimeError(f"gunicorn did not become healthy on port {port}:\n{tail}")
