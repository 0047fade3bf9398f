"""The one place that hands out CLI runs: every request's CLI is started and released here.

start() first takes an admission slot (admission.py: the limit, the queue, refusals), then obtains a
process (today always a cold cli.CliRun), registered with this process's watchdog (reaper.py) so
that it cannot outlive the worker. release() reaps it and gives the slot back. A pool of CLIs started
ahead of requests would stand between the two: its CLIs would hold slots too.
"""
from __future__ import annotations

import threading
import time

from . import cli, reaper
from .admission import Admission
from .errors import ClientGone, ProxyError


class Manager:
    """Start CLI runs for requests, within the limit, and take them back."""

    def __init__(self, settings):
        self.admission = Admission(settings.max_concurrency, settings.max_queue, settings.queue_timeout)
        self.held = {}  # each running cli.CliRun -> its admission ticket
        self._lock = threading.Lock()
        reaper.sweep()  # what a worker that died before this one left behind

    def start(self, settings, cli_input, client_gone=None, record=None):
        """Return a running cli.CliRun for cli_input; release it when the request is done.

        Waits for a slot first; the time waiting counts towards the run's CLAUDE_TIMEOUT. Raises
        AtCapacity or Draining (refused, with Retry-After) or ClientGone (the client left the queue).
        record, if given, is told the queue wait and how admission went (for the request's log line).
        """
        asked = time.monotonic()
        deadline = asked + settings.timeout
        try:
            ticket = self.admission.enter(deadline, client_gone)
        except ProxyError as error:
            _note(record, queue_wait=time.monotonic() - asked,
                  admission="client_gone" if isinstance(error, ClientGone) else getattr(error, "reason", "refused"))
            raise
        _note(record, queue_wait=time.monotonic() - asked, admission="admitted")
        try:
            reaper.guard()
            run = cli.CliRun(settings, cli_input, deadline=deadline)
        except BaseException:
            self.admission.leave(ticket)
            raise
        reaper.watch(run.group)
        with self._lock:
            self.held[run] = ticket
        return run

    def release(self, run, grace=0.0):
        """Reap a run and free its slot: grace gives a CLI that printed its result that long to exit on its own."""
        try:
            run.close(grace=grace)
        finally:
            reaper.unwatch(run.group)
            with self._lock:
                ticket = self.held.pop(run, None)
            if ticket is not None:
                self.admission.leave(ticket)

    def drain(self, seconds):
        """Refuse new runs, let running ones end (each by its deadline) for up to seconds, then kill the rest."""
        self.admission.drain()
        if not self.admission.wait_idle(seconds):
            with self._lock:
                left = list(self.held)
            for run in left:
                run.kill()


def _note(record, **fields):
    if record is not None:
        for name, value in fields.items():
            setattr(record, name, value)
