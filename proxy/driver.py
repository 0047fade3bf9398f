"""The run driver: a request's CLI from the moment it is asked for to the moment it is reaped.

It decides the status before the first byte (a stream starts only once the model has begun its
answer, so a failure before that gets the same error and status as without streaming), watches
the client, sends keep-alives, and hands each piece of the answer to the encoder of the front
door the request came through. After the first byte a failure is the encoder's error frame.
However a request ends, Run.close() is the one place its CLI is released, and it notes on the
request's record (requestlog.py) how the CLI ended.
"""
from __future__ import annotations

import itertools
import logging
import select
import socket
import time

from . import answer as answers
from . import requestlog
from .errors import ClientGone, ProxyError, Timeout

log = logging.getLogger("proxy")
TICK = 0.5  # seconds of CLI silence between checks that the client is still there (and keep-alives)
EXIT_GRACE = 2.0  # seconds a CLI that printed its result has to exit before it is killed


class Run:
    """One request's CLI run and its answer. Always close() it (or use it as a context manager)."""

    def __init__(self, manager, settings, cli_input, answer, client_gone=lambda: False, follow_up=None):
        self.manager, self.answer, self.client_gone = manager, answer, client_gone
        self.follow_up = follow_up  # answer -> the history the conversation's next request will resume
        self.keepalive = settings.keepalive
        self.record = requestlog.record()
        self.record.model = cli_input.model
        self.error = None  # the ProxyError the run ended with
        self.settled = False
        self.process = manager.start(settings, cli_input, client_gone, self.record)
        self.record.answer = answer
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def pieces(self):
        """Yield the Deltas each CLI event adds, or None after a silent tick, until the answer is complete."""
        next_look = 0.0
        try:
            for event in self.process.events(idle=TICK):
                if time.monotonic() >= next_look:  # at most once a tick: a look at the socket is a syscall
                    if self.client_gone():
                        raise ClientGone()
                    next_look = time.monotonic() + TICK
                if event is None:
                    yield None
                    continue
                deltas = self.answer.read(event)
                if deltas and self.record.first_token is None:
                    self.record.first_token = time.monotonic()
                yield deltas
                if self.answer.complete:
                    return
        except ProxyError as error:
            self.error = error
            raise

    def settle(self):
        """Return the answer, or raise the ProxyError of the failed run (waiting for its exit if that decides)."""
        try:
            returncode = self.process.wait() if self.answer.needs_exit else None
            settled = answers.settle(self.answer, returncode, self.process.stderr, self.process.other_output)
        except ProxyError as error:
            self.error = error
            raise
        self.settled = True
        if self.follow_up:  # noted now, before the client can send it; a spare is started once this run ends
            self.manager.expect(self.process, self.follow_up(self.answer))
        return settled

    @property
    def outcome(self):
        """How the CLI ended: success, deadline, client_gone, or the code of the failure it was classified as."""
        if isinstance(self.error, Timeout):
            return "deadline"
        if isinstance(self.error, ClientGone) or (self.error is None and not self.settled):
            return "client_gone"  # or the client closed a stream before its end
        if self.error is not None:
            return self.error.code or self.error.type
        return "success"

    def close(self):
        """Release the CLI; one that printed a successful result may first exit on its own."""
        if not self.closed:
            self.closed = True
            self.record.cli = self.outcome
            self.manager.release(self.process, grace=EXIT_GRACE if self.answer.succeeded else 0)


def whole(run):
    """Read the run to its end and return the settled answer; on failure, close the run and raise."""
    try:
        for _ in run.pieces():
            pass
        return run.settle()
    except BaseException:
        run.close()
        raise


def stream(run, encoder):
    """Return the frames of a streamed answer, once the model has begun it.

    A failure before that is raised here, for the front door to answer with its JSON error.
    """
    pieces = run.pieces()
    early = []
    try:
        for item in pieces:
            early.extend(item or ())
            if run.answer.started or run.answer.complete:
                break
        if not run.answer.started:
            run.settle()
    except BaseException:
        run.close()
        raise
    return _frames(run, encoder, itertools.chain([early], pieces))


def _frames(run, encoder, pieces):
    try:
        try:
            yield from encoder.open()
            last_sent = time.monotonic()
            for item in pieces:
                for piece in item or ():
                    for frame in encoder.piece(piece):
                        yield frame
                        last_sent = time.monotonic()
                if time.monotonic() - last_sent >= run.keepalive:
                    yield encoder.keepalive()
                    last_sent = time.monotonic()
            run.settle()
            yield from encoder.finish()
        except ProxyError as error:
            log.warning("Stream %s ended with %s: %s", encoder.id, type(error).__name__, error.message)
            yield from encoder.fail(error)
        except Exception:
            log.exception("Stream %s failed", encoder.id)
            run.error = ProxyError()
            yield from encoder.fail(run.error)
    finally:
        run.close()


class Encoder:
    """A front door's stream format: frames for the start, each piece, the end, and a failure."""

    id = ""

    def open(self):
        return ()

    def piece(self, delta):
        return ()

    def keepalive(self):
        return ": keep-alive\n\n"

    def finish(self):
        return ()

    def fail(self, error):
        return ()


def client_watch(environ):
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
