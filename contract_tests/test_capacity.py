"""Under gunicorn, past the limit and the queue: refused at once with Retry-After; a queue clients can leave;
/metrics and the log line after a few requests."""
import http.client
import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from contract_tests.support import Server, fake_cli_processes
from proxy.spec import Spec

SPEC = Spec()


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """One CLI run at once and one place in the queue; a queue timeout that never comes."""
    s = Server(tmp_path_factory.mktemp("tight"), MAX_CONCURRENCY="1", MAX_QUEUE="1", QUEUE_TIMEOUT="3600",
               LOG_FORMAT="json")
    yield s
    s.stop()


def open_request(server, content, stream=False, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = {"model": "haiku", "messages": [{"role": "user", "content": content}], "stream": stream}
    connection.request("POST", "/v1/chat/completions", json.dumps(body),
                       {"Content-Type": "application/json", **(headers or {})})
    return connection


def wait_for(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.05)


def figures(server):
    return server.health()["concurrency"]


def hang_up(*connections):
    for connection in connections:
        connection.sock.close()
        connection.close()


def test_past_the_limit_and_the_queue_a_request_is_refused_at_once_with_retry_after(tight, official):
    running = open_request(tight, "Runs [stub:hang]")
    wait_for(lambda: figures(tight)["running"] == 1)
    queued = open_request(tight, "Queued [stub:hang]", stream=True)
    wait_for(lambda: figures(tight)["queued"] == 1)
    try:
        for stream in (False, True):
            # Both holders hang until their clients leave: an answer at all means no waiting on them.
            response = requests.post(tight.url + "/v1/chat/completions", stream=stream, timeout=60, json={
                "model": "haiku", "messages": [{"role": "user", "content": "Refused"}], "stream": stream})
            body = response.json()
            SPEC.response_validator("createChatCompletion", 503).validate(body)
            official("ErrorResponse").validate(body)
            assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
            assert (body["error"]["type"], body["error"]["code"]) == ("server_error", "server_at_capacity")
        ready = requests.get(tight.url + "/ready", timeout=10)
        SPEC.response_validator("getReady", 503).validate(ready.json())
        assert ready.status_code == 503 and ready.json()["status"] == "at_capacity"
        assert figures(tight) == {"limit": 1, "queue_size": 1, "running": 1, "queued": 1}
        assert [call["stdin"] for call in tight.calls() if "Refused" in call["stdin"] or "Queued" in call["stdin"]] == []
    finally:
        hang_up(queued, running)
    wait_for(lambda: not fake_cli_processes(tight) and figures(tight)["running"] == 0)


def test_a_queued_request_whose_client_leaves_never_starts_a_cli(tight):
    running = open_request(tight, "Holds the slot [stub:hang]")
    wait_for(lambda: figures(tight)["running"] == 1)
    leaving = open_request(tight, "Leaves the queue [stub:success]")
    wait_for(lambda: figures(tight)["queued"] == 1)
    hang_up(leaving)
    wait_for(lambda: figures(tight)["queued"] == 0)  # dropped while the slot is still taken
    hang_up(running)
    wait_for(lambda: not fake_cli_processes(tight) and figures(tight)["running"] == 0)
    assert not [call for call in tight.calls() if "Leaves the queue" in call["stdin"]]


def samples(server):
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_metrics_report_the_counters_after_a_few_requests(tight):
    before = samples(tight)
    for content, stream in (("Say hi", False), ("Count [stub:slow]", True), ("Say hi [stub:rate_limit]", False)):
        requests.post(tight.url + "/v1/chat/completions", timeout=60, json={
            "model": "haiku", "messages": [{"role": "user", "content": content}], "stream": stream}).content
    wait_for(lambda: samples(tight).get(("claude_proxy_cli_runs_total", (("outcome", "rate_limit_exceeded"),))))
    after = samples(tight)

    def grew(name, *labels):
        key = (name, tuple(sorted(labels)))
        return after.get(key, 0) - before.get(key, 0)

    chat = ("route", "/v1/chat/completions")
    assert grew("claude_proxy_requests_total", chat, ("status", "200")) == 2
    assert grew("claude_proxy_requests_total", chat, ("status", "429")) == 1
    assert grew("claude_proxy_cli_runs_total", ("outcome", "success")) == 2
    assert grew("claude_proxy_cli_runs_total", ("outcome", "rate_limit_exceeded")) == 1
    assert grew("claude_proxy_admissions_total", ("result", "admitted")) == 3
    assert grew("claude_proxy_time_to_first_token_seconds_count", chat) == 2
    assert grew("claude_proxy_tokens_total", ("direction", "out")) > 0 and grew("claude_proxy_cost_usd_total") > 0
    assert after[("claude_proxy_cli_runs_running", ())] == 0 and after[("claude_proxy_cli_runs_queued", ())] == 0


def test_the_log_line_carries_the_client_s_request_id_and_no_prompt(tight):
    response = requests.post(tight.url + "/v1/chat/completions", headers={"X-Request-Id": "trace-7f3a"}, timeout=60,
                             json={"model": "haiku", "messages": [{"role": "user", "content": "Whisper a secret"}]})
    assert response.status_code == 200 and response.headers["x-request-id"] == "trace-7f3a"
    log = tight.output.name

    def line():
        found = [json.loads(text) for text in open(log).read().splitlines()
                 if text.startswith("{") and '"trace-7f3a"' in text]
        return found[0] if found else None

    wait_for(line)
    assert {k: line()[k] for k in ("route", "model", "status", "admission", "cli")} == {
        "route": "/v1/chat/completions", "model": "claude-haiku-5-5", "status": 200, "admission": "admitted",
        "cli": "success"}
    assert "secret" not in open(log).read()
