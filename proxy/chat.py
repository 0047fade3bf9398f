"""POST /v1/chat/completions: run the CLI for a request and answer as JSON or as SSE.

The status is decided before the first byte: a stream starts only once the model has begun its
answer, so failures before that get the same JSON error as without streaming. After it, a failure
becomes an error frame followed by [DONE]. However a request ends, its CLI is reaped.
"""
from __future__ import annotations

import itertools
import json
import logging
import select
import socket
import time

from flask import current_app, request

from . import answer as shape
from . import cli, errors, failures, images, messages
from .http import json_response

log = logging.getLogger("proxy")
TICK = 0.5  # seconds of CLI silence between checks that the client is still there (and keep-alives)
EXIT_GRACE = 2.0  # seconds a CLI that printed its result has to exit before it is killed
DONE = "data: [DONE]\n\n"


class ClientGone(errors.ProxyError):
    status, code = 499, "client_closed_request"
    default_message = "The client closed the connection."


def create_chat_completion():
    settings = current_app.config["SETTINGS"]
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise errors.InvalidRequest(
            "The request body must be a JSON object (see the API reference for /v1/chat/completions).")
    current_app.extensions["spec"].validate_request("createChatCompletion", body)
    images.inline_remote_images(body, settings)
    cli_input, plan = messages.to_cli_input(body, settings)
    answer = shape.Answer(cli_input.model, body.get("stop"), plan)
    client_gone = watch_client(request.environ)
    run = cli.CliRun(settings, cli_input)
    if body.get("stream"):
        return _start_stream(run, answer, body, client_gone, settings)
    try:
        for _ in _deltas(run, answer, client_gone):
            pass
        _check(run, answer)
    except BaseException:
        run.close()
        raise
    headers = {"x-claude-cost-usd": f"{answer.cost:.10f}".rstrip("0").rstrip(".")} if answer.cost is not None else None
    completion = shape.completion(answer, shape.new_id(), int(time.time()), reasoning=settings.reasoning)
    response = json_response(completion, headers=headers)
    response.call_on_close(lambda: _close(run, answer))
    return response


def _deltas(run, answer, client_gone):
    """Yield the list of Deltas each CLI event adds, or None after a silent tick, until the answer is complete."""
    next_look = 0.0
    for event in run.events(idle=TICK):
        if time.monotonic() >= next_look:  # at most once a tick: a look at the socket is a syscall
            if client_gone():
                raise ClientGone()
            next_look = time.monotonic() + TICK
        if event is None:
            yield None
            continue
        yield answer.read(event)
        if answer.complete:
            return


def _close(run, answer):
    """Reap the run; a CLI that printed a successful result may first exit on its own."""
    run.close(grace=EXIT_GRACE if answer.succeeded else 0)


def _check(run, answer):
    """Raise the ProxyError for a run that failed; return if the answer stands.

    A successful result is the whole answer: the client need not wait the ~20 ms the CLI takes
    to exit after printing it.
    """
    if answer.ends_run or answer.succeeded:
        return
    returncode = run.wait()
    raise failures.classify(failures.Outcome(
        answer.result, answer.error_category, returncode, run.stderr, run.other_output, answer.model,
        answer.output_error, answer.plan, answer.abandoned))


def _start_stream(run, answer, body, client_gone, settings):
    deltas = _deltas(run, answer, client_gone)
    early = []
    try:
        for item in deltas:
            early.extend(item or ())
            if answer.started or answer.complete:
                break
        if not answer.started:
            _check(run, answer)
    except BaseException:
        run.close()
        raise
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return current_app.response_class(_sse(run, answer, deltas, early, body, settings), headers=headers,
                                      mimetype="text/event-stream")


def _sse(run, answer, deltas, early, body, settings):
    completion_id, created = shape.new_id(), int(time.time())
    include_usage = (body.get("stream_options") or {}).get("include_usage")

    def frame(payload):
        return f"data: {json.dumps(payload)}\n\n"

    def content_chunk(delta, finish_reason=None):
        return frame(shape.chunk(completion_id, created, answer.model, delta, finish_reason))

    try:
        try:
            yield content_chunk({"role": "assistant", "content": ""})
            last_sent = time.monotonic()
            for item in itertools.chain([early], deltas):
                for piece in item or ():
                    if piece.content:
                        yield content_chunk({"content": piece.content})
                        last_sent = time.monotonic()
                    elif piece.reasoning and settings.reasoning:
                        yield content_chunk({"reasoning_content": piece.reasoning})
                        last_sent = time.monotonic()
                if time.monotonic() - last_sent >= settings.keepalive:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
            _check(run, answer)
            for delta in _final_deltas(answer):
                yield content_chunk(delta)
            yield content_chunk({}, answer.openai_finish_reason)
            if include_usage:
                yield frame(shape.chunk(completion_id, created, answer.model, usage=answer.usage()))
        except errors.ProxyError as error:
            log.warning("Stream %s ended with %s: %s", completion_id, type(error).__name__, error.message)
            yield frame(error.envelope())
        except Exception:
            log.exception("Stream %s failed", completion_id)
            yield frame(errors.ProxyError().envelope())
        yield DONE
    finally:
        _close(run, answer)


def _final_deltas(answer):
    """Yield what is known only once the CLI accepted it: a JSON answer, or the tool calls."""
    if answer.plan and answer.plan.kind == "json":
        yield {"content": answer.content}
    for index, call in enumerate(answer.tool_calls):
        function = call["function"]
        yield {"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                               "function": {"name": function["name"], "arguments": ""}}]}
        yield {"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]}


def watch_client(environ):
    """Return a function telling whether the client has closed its connection (under gunicorn)."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return lambda: False

    def gone():
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except ValueError:  # a TLS socket cannot peek; its writes will fail instead
            return False
        except OSError:
            return True

    return gone
