"""Classify a failed CLI run into a ProxyError, by a table of rules drawn from recorded runs.

The CLI reports API failures in its result envelope: `is_error`, `api_error_status`,
`terminal_reason`, and in stream-json a synthetic assistant message whose `error` field names a
category. `subtype` says "success" even then, so it is not used to decide. The CLI's own text is
passed on only after removing the gateway's address, which it names in some messages.
"""
from __future__ import annotations

import dataclasses
import re

from . import errors

GATEWAY_ADDRESS = re.compile(
    r"\s*\(?(?:https?://)?(?:\[[0-9a-fA-F:]+\]|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*):\d{2,5}\b/?\S*?\)?(?=[\s.,;)]|$)")
STRUCTURED_FAILURES = ("error_max_turns", "error_max_structured_output_retries")
LOGIN_HINT = ("On the proxy's host, run `claude login` (or `claude setup-token`) as the user the proxy runs as, "
              "or give the proxy's environment a valid ANTHROPIC_API_KEY.")


@dataclasses.dataclass
class Outcome:
    """What a CLI run left behind, as facts the rules read."""

    result: dict | None
    error_category: str | None
    returncode: int | None
    stderr: str = ""
    other_output: list = dataclasses.field(default_factory=list)
    model: str = ""
    output_error: str | None = None  # why the CLI refused the model's structured output
    plan: object = None  # the tools.Plan of a run that asked for structured output
    abandoned: bool = False  # the CLI withdrew text it had already streamed
    control_error: str | None = None  # the CLI refused a control request (its message)

    @classmethod
    def of(cls, answer, returncode, stderr="", other_output=()):
        """Return the Outcome of a run whose events an answer.Answer has read."""
        return cls(result=answer.result, error_category=answer.error_category, returncode=returncode,
                   stderr=stderr, other_output=list(other_output), model=answer.model,
                   output_error=answer.output_error, plan=answer.plan, abandoned=answer.abandoned,
                   control_error=answer.control_error)

    @property
    def status(self):
        return (self.result or {}).get("api_error_status")

    @property
    def terminal_reason(self):
        return (self.result or {}).get("terminal_reason")

    @property
    def detail(self):
        """The CLI's own account of the failure, without the gateway's address."""
        text = (self.result or {}).get("result") or "; ".join((self.result or {}).get("errors") or [])
        return clean(text)


def clean(text):
    """Remove host:port and URLs from CLI text, so that no upstream address reaches a client."""
    return GATEWAY_ADDRESS.sub("", text or "").strip()


def _signal_of(outcome):
    code = outcome.returncode
    return -code if code is not None and code < 0 else None


# (test, error builder): the first rule whose test holds decides. A run that produced a result
# envelope is judged by it; one that did not, by how the process ended.
RULES = [
    (lambda o: o.result is None and _signal_of(o),
     lambda o: errors.CliFailed(
         f"The Claude CLI was killed by signal {_signal_of(o)} before it finished (out of memory?). Retry the "
         "request; if it keeps happening, check the proxy host's memory.")),
    (lambda o: o.result is None and o.other_output,
     lambda o: errors.CliFailed(
         f"The Claude CLI (exit status {o.returncode}) printed output that is not stream-json, starting "
         f"{clean(o.other_output[0])[:200]!r}. Check that CLAUDE_PATH names the Claude Code CLI and that "
         "its version is supported.")),
    (lambda o: o.result is None,
     lambda o: errors.CliFailed(
         f"The Claude CLI exited with status {o.returncode} without an answer"
         + (f": {clean(o.stderr.strip().splitlines()[-1])[:300]}" if o.stderr.strip() else ".")
         + " Check the proxy's log and that CLAUDE_PATH names a supported Claude Code CLI.")),
    (lambda o: o.control_error,
     lambda o: errors.CliFailed(
         f"The Claude CLI refused the proxy's instructions for this run ({clean(o.control_error)[:300]}); its "
         "version may not be supported. Check it with `tox -e cli -- <version>`.")),
    (lambda o: o.abandoned and not o.result.get("is_error"),
     lambda o: errors.UpstreamError(
         "The model's streamed answer broke off and the Claude CLI replaced it; the part already sent "
         "cannot be withdrawn, so the request failed. Retry it.")),
    (lambda o: o.plan is not None and o.result is not None and (
        o.result.get("subtype") in STRUCTURED_FAILURES or not o.result.get("is_error")),
     lambda o: errors.InvalidModelOutput(
         f"The model did not give a valid {'function call' if o.plan.kind == 'tools' else 'JSON answer'} "
         f"in {o.plan.max_turns} attempt(s)"
         + (f"; the last was refused with: {clean(o.output_error)[:500]}" if o.output_error else
            " (it answered in text)") + ". Retry the request.")),
    (lambda o: o.terminal_reason == "prompt_too_long",
     lambda o: errors.ContextLengthExceeded(
         f"The conversation is too long for the model's context window: {o.detail}", param="messages")),
    (lambda o: o.status == 429 or o.error_category == "rate_limit",
     lambda o: errors.RateLimited(f"Claude's rate limit was reached: {o.detail}")),
    (lambda o: o.status == 529 or (o.result or {}).get("api_error_type") == "overloaded_error",
     lambda o: errors.Overloaded(f"Claude is overloaded right now; retry shortly. ({o.detail})",
                                 headers={"Retry-After": "5"})),
    (lambda o: o.error_category == "billing_error",
     lambda o: errors.RateLimited(f"The Claude account behind the proxy is out of quota: {o.detail}",
                                  code="insufficient_quota")),
    (lambda o: o.status in (401, 403) or o.error_category == "authentication_failed",
     lambda o: errors.CliNotLoggedIn(
         f"The Claude CLI could not authenticate ({o.detail}). {LOGIN_HINT}")),
    (lambda o: o.status == 404,
     lambda o: errors.NotFound(
         f"The model {o.model!r} does not exist or is not available to this Claude login ({o.detail}).",
         param="model", code="model_not_found")),
    (lambda o: o.status == 400 or o.error_category == "invalid_request",
     lambda o: errors.InvalidRequest(f"Claude refused the request: {o.detail}")),
    (lambda o: o.status is not None and o.status >= 500 or o.error_category == "server_error",
     lambda o: errors.UpstreamError(f"Claude's API failed: {o.detail}")),
    (lambda o: True,
     lambda o: errors.CliFailed(f"The Claude CLI failed (exit status {o.returncode}): {o.detail}")),
]


def classify(outcome):
    """Return the ProxyError for a failed run."""
    for test, build in RULES:
        if test(outcome):
            return build(outcome)
    raise AssertionError("the last rule always holds")
