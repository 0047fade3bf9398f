"""The two sides of the load benchmark, each giving a Result: the CLI run directly as the proxy would
run it, and one chat request to the server."""
import http.client
import json
import shutil
import subprocess
import threading
import time

from proxy import command, seeds
from proxy.api.openai_chat_input import to_cli_input


class Result:
    """One request or run: when it began, its status, when its first token and its end came."""

    def __init__(self, start):
        self.start, self.status, self.first, self.end, self.retry_after, self.code = start, None, None, None, None, None

    @property
    def answered(self):
        return self.status == 200 and self.end is not None


class Direct:
    """Run the CLI as the proxy would, without the proxy."""

    def __init__(self, settings, body):
        self.settings, (self.cli_input, _) = settings, to_cli_input(body, settings)
        self.seeds = seeds.capture(settings)  # as the server does at start-up
        self.live = set()
        self.lock = threading.Lock()

    def one(self):
        workdir, cwd, argv, env = command.prepare(self.settings, self.cli_input, self.seeds, "bench-load-")
        result = Result(time.monotonic())
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    cwd=cwd, env=env, start_new_session=True)
            with self.lock:
                self.live.add(proc.pid)
            proc.stdin.write(command.stdin_bytes(self.cli_input))
            proc.stdin.close()
            for line in proc.stdout:
                if result.first is None and b'"text_delta"' in line:
                    result.first = time.monotonic()
                elif b'"type":"result"' in line:
                    result.end = time.monotonic()  # the answer is whole here; the proxy answers here too
            result.status = 200 if proc.wait() == 0 and result.end else proc.returncode
            with self.lock:
                self.live.discard(proc.pid)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return result

    def clis(self):
        with self.lock:
            return list(self.live)


def ask(port, body, stream, timeout=600):
    """Send one chat request; return its Result (status, first content chunk, end)."""
    result = Result(time.monotonic())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps(body | {"stream": stream}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        result.status = resp.status
        if resp.status != 200:
            result.retry_after = resp.getheader("Retry-After")
            result.code = (json.loads(resp.read() or b"{}").get("error") or {}).get("code")
            result.end = time.monotonic()
            return result
        if not stream:
            resp.read()
            result.end = time.monotonic()
            return result
        while True:
            line = resp.readline()
            if not line:
                break
            if result.first is None and line.startswith(b"data: {") and b'"content": "' in line \
                    and b'"content": ""' not in line:
                result.first = time.monotonic()
            if line.startswith(b"data: [DONE]"):
                result.end = time.monotonic()
        return result
    except (OSError, http.client.HTTPException) as error:
        result.status, result.code, result.end = "lost", type(error).__name__, time.monotonic()
        return result
    finally:
        conn.close()
