"""The one place that hands out CLI runs: every request's CLI is started (or taken ready) and released here.

A request gets a spare started ahead of it when one matches (spares.py), else a CLI started for
it; every run is headed by the environment records captured when the manager was made
(seeds.py). When a run is released, the conversation's next request may be prepared for.
"""
from __future__ import annotations

import atexit
import threading

from . import canary, cli, seeds
from .spares import Spares


class Manager:
    """Start CLI runs for requests and take them back."""

    def __init__(self, settings, warm=True):
        self.seeds = seeds.capture(settings) if settings.hide_host else None
        self.active = 0
        self.lock = threading.Lock()
        self.spares = Spares(settings, self.seeds, busy=lambda: self.active > 0, enabled=warm)
        self.spares.start(check=lambda: canary.faithful(settings, self.seeds))
        atexit.register(self.shutdown)  # a worker that exits takes its spares with it

    def start(self, settings, cli_input):
        """Return a running cli.CliRun for cli_input; release it when the request is done."""
        with self.lock:
            self.active += 1
        try:
            return self.spares.take(settings, cli_input) or cli.CliRun(settings, cli_input, self.seeds)
        except BaseException:
            self._done()
            raise

    def release(self, run, grace=0.0, next_history=None):
        """Reap a run: grace gives a CLI that printed its result that long to exit on its own.

        next_history, when the answer was given, is the history the conversation's next request
        will resume: a spare may be started for it.
        """
        try:
            run.close(grace=grace)
        finally:
            self._done()
        if next_history is not None:
            self.spares.expect(run.spawned.model, next_history, run.spawned.max_turns)
        self.spares.wake()

    def shutdown(self):
        self.spares.shutdown()

    def _done(self):
        with self.lock:
            self.active -= 1
