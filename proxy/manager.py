"""The one place that hands out CLI runs: every request's CLI is started and released here.

Today it starts a CLI for each request and reaps it when the request is done; every run is
headed by the environment records captured when the manager was made (seeds.py). This is the
seam where a limit on runs with a queue, and CLIs started ahead of requests, stand.
"""
from __future__ import annotations

from . import cli, seeds


class Manager:
    """Start CLI runs for requests and take them back."""

    def __init__(self, settings):
        self.seeds = seeds.capture(settings) if settings.hide_host else None

    def start(self, settings, cli_input):
        """Return a running cli.CliRun for cli_input; release it when the request is done."""
        return cli.CliRun(settings, cli_input, self.seeds)

    def release(self, run, grace=0.0):
        """Reap a run: grace gives a CLI that printed its result that long to exit on its own."""
        run.close(grace=grace)
