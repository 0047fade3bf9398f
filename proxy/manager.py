"""The one place that hands out CLI runs: every request's CLI is started (or taken ready) and released here.

start() takes a spare started ahead of the request when one matches (spares.py): the spare
already holds a slot of admission.py, which passes to the request. Otherwise it takes a slot (the
limit, the queue, refusals), first giving back an idle spare's slot if every slot is taken, and
starts a CLI for the request. Every CLI, a spare's too, is registered with this process's watchdog
(reaper.py) so that it cannot outlive the worker, and its transcript is headed by the environment
records captured when the manager was made (seeds.py). release() reaps it and gives its slot back;
expect() notes what the conversation's next request will resume.
"""
from __future__ import annotations

import atexit
import threading
import time

from . import canary, cli, reaper, seeds
from .admission import Admission
from .errors import ClientGone, ProxyError
from .spares import Spares


class Manager:
    """Start CLI runs for requests, within the limit, and take them back."""

    def __init__(self, settings, warm=True):
        self.admission = Admission(settings.max_concurrency, settings.max_queue, settings.queue_timeout)
        self.held = {}  # each running cli.CliRun -> its admission ticket
        self._lock = threading.Lock()
        reaper.sweep()  # what a worker that died before this one left behind
        self.seeds = seeds.capture(settings) if settings.hide_host else None
        self.spares = Spares(settings, self.seeds, busy=self._busy, acquire=self.admission.try_enter,
                             started=lambda run: reaper.watch(run.group), ended=self._ended, enabled=warm)
        self.spares.start(check=lambda: canary.faithful(settings, self.seeds))
        atexit.register(self.spares.shutdown)  # a worker that exits takes its spares with it

    def start(self, settings, cli_input, client_gone=None, record=None):
        """Return a running cli.CliRun for cli_input; release it when the request is done.

        Waits for a slot first; the time waiting counts towards the run's CLAUDE_TIMEOUT. Raises
        AtCapacity or Draining (refused, with Retry-After) or ClientGone (the client left the queue).
        record, if given, is told the queue wait and how admission went (for the request's log line).
        """
        asked = time.monotonic()
        deadline = asked + settings.timeout
        taken = None if self.admission.draining else self.spares.take(settings, cli_input, deadline)
        if taken is not None:
            run, ticket = taken
            self.admission.restart(ticket)
            _note(record, queue_wait=0.0, admission="admitted", warm=True)
            return self._hold(run, ticket)
        if self.admission.saturated:
            self.spares.give_back()  # an idle spare's slot goes to the request
        try:
            # While it waits, spares started meanwhile give their slots back too.
            ticket = self.admission.enter(deadline, client_gone, waiting=self.spares.give_back)
        except ProxyError as error:
            _note(record, queue_wait=time.monotonic() - asked,
                  admission="client_gone" if isinstance(error, ClientGone) else getattr(error, "reason", "refused"))
            raise
        _note(record, queue_wait=time.monotonic() - asked, admission="admitted", warm=False)
        try:
            reaper.guard()
            run = cli.CliRun(settings, cli_input, self.seeds, deadline=deadline)
        except BaseException:
            self.admission.leave(ticket)
            raise
        reaper.watch(run.group)
        return self._hold(run, ticket)

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
        self.spares.wake()

    def expect(self, run, next_history):
        """Note the history a run's conversation's next request will resume (None: nothing to send back);
        a spare may be started for it once the machine is idle."""
        if next_history is not None:
            self.spares.expect(run.spawned.model, next_history, run.spawned.max_turns)

    def drain(self, seconds):
        """Refuse new runs, let running ones end (each by its deadline) for up to seconds, then kill the rest."""
        self.admission.drain()
        self.spares.shutdown()
        if not self.admission.wait_idle(seconds):
            with self._lock:
                left = list(self.held)
            for run in left:
                run.kill()

    def _hold(self, run, ticket):
        with self._lock:
            self.held[run] = ticket
        return run

    def _busy(self):
        """True while a request runs or waits: spares are started only when the machine is idle."""
        with self._lock:
            return bool(self.held) or self.admission.queued > 0 or self.admission.draining

    def _ended(self, run, ticket):
        """A spare was reaped (or failed to start) without serving a request: its group and its slot are free."""
        if run is not None:
            reaper.unwatch(run.group)
        self.admission.leave(ticket, timed=False)


def _note(record, **fields):
    if record is not None:
        for name, value in fields.items():
            setattr(record, name, value)
