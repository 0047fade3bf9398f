"""One structured line per request, written once its response has ended; the client's request id echoed."""
import json
import logging

import pytest

from proxy import create_app
from tests.support import CLAUDE, PINNED, recording, sse_events

FAR = 1e12
FIELDS = ["time", "level", "event", "request_id", "method", "route", "model", "status", "queue_wait_s", "ttft_s",
          "latency_s", "tokens_in", "tokens_out", "cost_usd", "admission", "warm", "cli"]


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, entry):
        self.lines.append((entry.levelno, self.format(entry)))


@pytest.fixture
def logged(fp, settings):
    """(an app logging JSON lines, the lines it logs)."""
    fp.register([CLAUDE, "--version"], stdout=f"{PINNED} (Claude Code)\n")
    logger = logging.getLogger("proxy.requests")
    lines = Lines()
    logger.addHandler(lines)
    level, logger.level = logger.level, logging.DEBUG
    try:
        yield create_app(settings.replace(log_format="json")), lines.lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)


def chat(client, content="hi", stream=False, **headers):
    return closed(client.post("/v1/chat/completions", headers=headers, json={
        "model": "haiku", "messages": [{"role": "user", "content": content}], "stream": stream}))


def closed(response):
    """The response, read and closed as a server closes it once sent (which writes the log line)."""
    response.get_data()
    response.close()
    return response


def the_line(lines):
    [(level, line)] = lines
    fields = json.loads(line)
    assert list(fields) == FIELDS
    return level, fields


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_is_one_line_with_its_figures_and_no_prompt_text(logged, replay, stream):
    app, lines = logged
    replay("success")
    response = chat(app.test_client(), "a secret prompt", stream, **{"X-Request-Id": "client-id:42"})
    if stream:
        assert sse_events(response.data)[-1] == "[DONE]"
    level, fields = the_line(lines)
    usage = [json.loads(line["line"]) for line in recording("success")["stdout"]][-1]
    assert response.headers["x-request-id"] == "client-id:42" and level == logging.INFO
    assert {k: fields[k] for k in ("request_id", "method", "route", "model", "status", "admission", "cli")} == {
        "request_id": "client-id:42", "method": "POST", "route": "/v1/chat/completions",
        "model": "claude-haiku-5-5", "status": 200, "admission": "admitted", "cli": "success"}
    assert fields["tokens_out"] == usage["usage"]["output_tokens"] and fields["cost_usd"] == usage["total_cost_usd"]
    assert fields["tokens_in"] > 0 and fields["queue_wait_s"] >= 0
    assert 0 < fields["ttft_s"] <= fields["latency_s"]
    assert "secret" not in line_text(lines)


def line_text(lines):
    return "\n".join(line for _, line in lines)


def test_an_unusable_request_id_is_replaced(logged, replay):
    app, lines = logged
    response = closed(app.test_client().get("/v1/models", headers={"X-Request-Id": "forged\" line=1"}))
    assert response.headers["x-request-id"].startswith("req_")
    assert the_line(lines)[1]["request_id"] == response.headers["x-request-id"]


def test_a_failed_run_logs_its_failure_class(logged, replay):
    app, lines = logged
    replay("rate_limit")
    assert chat(app.test_client()).status_code == 429
    fields = the_line(lines)[1]
    assert (fields["status"], fields["admission"], fields["cli"]) == (429, "admitted", "rate_limit_exceeded")


def test_a_refused_request_logs_that_no_cli_ran(logged):
    app, lines = logged
    for _ in range(app.extensions["manager"].admission.limit):
        app.extensions["manager"].admission.enter(FAR)
    app.extensions["manager"].admission.queue_size = 0
    assert chat(app.test_client()).status_code == 503
    fields = the_line(lines)[1]
    assert (fields["status"], fields["model"], fields["admission"], fields["cli"]) == (503, "haiku", "queue_full", None)
    assert fields["tokens_in"] is None and fields["ttft_s"] is None


def test_probes_and_scrapes_are_logged_at_debug_only(logged):
    app, lines = logged
    client = app.test_client()
    for path in ("/health", "/ready", "/metrics"):
        closed(client.get(path))
    assert [level for level, _ in lines] == [logging.DEBUG] * 3


def test_the_text_format_has_the_same_fields(fp, settings, replay):
    from proxy.requestlog import TextFormat

    line = TextFormat().format(logging.makeLogRecord({"msg": "request", "fields": {"status": 200, "cli": None}}))
    assert line.endswith(" request status=200 cli=-")
