"""The one place that hands out CLI runs: every request's CLI is started and released here.

Today it starts a CLI for each request and reaps it when the request is done. This is the seam
where a limit on runs with a queue, and CLIs started ahead of requests, stand.
"""
from __future__ import annotations

from . import cli


class Manager:
    """Start CLI runs for requests and take them back."""

    def start(self, settings, cli_input):
        """Return a running cli.CliRun for cli_input; release it when the request is done."""
        return cli.CliRun(settings, cli_input)

    def release(self, run, grace=0.0):
        """Reap a run: grace gives a CLI that printed its result that long to exit on its own."""
        run.close(grace=grace)
