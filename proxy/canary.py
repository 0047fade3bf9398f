"""Check, against the loopback, that a spare bound late sends the upstream request a cold run sends.

Spares rely on what the CLI does with control requests it is sent after it started; a CLI version
where that differs from the flags of a cold run would answer a spare's requests differently. So
before the pool fills, one request is run both ways and the two upstream requests compared
(leaving out the session id in `metadata` and each run's own directory).
"""
from __future__ import annotations

import copy
import json
import logging

from . import cli, loopback
from .command import CliInput

log = logging.getLogger("proxy")


def request(settings):
    """A request that sets everything a spare is bound with: system prompt, schema, model, effort, limit."""
    return CliInput(model="sonnet" if settings.model != "sonnet" else "haiku",
                    message=({"type": "text", "text": "Say hi"},), system_prompt="Answer briefly.", effort="high",
                    max_output_tokens=1000, json_schema={"type": "object", "properties": {"answer": {"type": "string"}}},
                    max_turns=1)


def faithful(settings, seeds):
    """Return True if a warm and a cold run of the same request send the same upstream request."""
    try:
        wanted = request(settings)
        cold = _run(settings, seeds, wanted, wanted)
        warm = _run(settings, seeds, CliInput(model=settings.model, message=(), max_turns=1), wanted)
    except Exception as exc:
        log.warning("The warm-start check could not run (%s); requests run cold.", exc)
        return False
    if cold and cold == warm:
        return True
    log.warning("This Claude CLI sends a different upstream request when bound late than when started with the "
                "request (or none at all); CLIs are not started ahead of requests, and every request runs cold.")
    return False


def _run(settings, seeds, spawned, wanted):
    with loopback.Upstream() as upstream:
        run = cli.CliRun(settings, spawned, seeds, start_input=False, extra_env={"ANTHROPIC_BASE_URL": upstream.url})
        try:
            run.send(settings, wanted)
            for _ in run.events():
                pass
        finally:
            run.close()
        return [_normal(body, run.cwd) for body in upstream.bodies]


def _normal(body, cwd):
    body = copy.deepcopy(body)
    body.pop("metadata", None)  # holds the session id
    return json.loads(json.dumps(body).replace(cwd, "<cwd>"))
