"""GET /metrics: Prometheus text that counts requests, admissions, CLI outcomes, tokens and cost."""
import json

from prometheus_client.parser import text_string_to_metric_families

from proxy.requestlog import tokens_in
from tests.support import recording

FAR = 1e12


def closed(response):
    response.get_data()
    response.close()
    return response


def samples(client):
    """The /metrics samples as {(name, ((label, value), ...)): value}; parsing checks the text format."""
    response = closed(client.get("/metrics"))
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def chat(client, stream=False):
    return closed(client.post("/v1/chat/completions", json={
        "model": "haiku", "messages": [{"role": "user", "content": "hi"}], "stream": stream}))


def test_metrics_count_what_happened(app, replay):
    client = app.test_client()
    replay("success"), replay("success"), replay("rate_limit")
    chat(client), chat(client, stream=True), chat(client)
    closed(client.get("/v1/models"))
    admission = app.extensions["manager"].admission
    for _ in range(admission.limit):
        admission.enter(FAR)
    admission.queue_size = 0
    chat(client)  # refused
    got = samples(client)
    result = [json.loads(line["line"]) for line in recording("success")["stdout"]][-1]
    usage = result["usage"]
    chat_route = ("route", "/v1/chat/completions")
    assert got[("claude_proxy_requests_total", (chat_route, ("status", "200")))] == 2
    assert got[("claude_proxy_requests_total", (chat_route, ("status", "429")))] == 1
    assert got[("claude_proxy_requests_total", (chat_route, ("status", "503")))] == 1
    assert got[("claude_proxy_requests_total", (("route", "/v1/models"), ("status", "200")))] == 1
    assert got[("claude_proxy_admissions_total", (("result", "admitted"),))] == 3
    assert got[("claude_proxy_admissions_total", (("result", "queue_full"),))] == 1
    assert got[("claude_proxy_cli_runs_total", (("outcome", "success"),))] == 2
    assert got[("claude_proxy_cli_runs_total", (("outcome", "rate_limit_exceeded"),))] == 1
    assert got[("claude_proxy_tokens_total", (("direction", "out"),))] == 2 * usage["output_tokens"]
    assert got[("claude_proxy_tokens_total", (("direction", "in"),))] == 2 * tokens_in(usage)
    assert abs(got[("claude_proxy_cost_usd_total", ())] - 2 * result["total_cost_usd"]) < 1e-12
    assert got[("claude_proxy_time_to_first_token_seconds_count", (chat_route,))] == 2
    assert got[("claude_proxy_request_duration_seconds_count", (chat_route,))] == 4
    assert got[("claude_proxy_queue_wait_seconds_count", ())] == 4
    assert got[("claude_proxy_cli_runs_running", ())] == admission.limit
    assert got[("claude_proxy_cli_runs_queued", ())] == 0
    assert got[("claude_proxy_cli_runs_limit", ())] == admission.limit


def test_metrics_give_the_warm_pools_figures(app):
    spares = app.extensions["manager"].spares
    spares.hits, spares.misses, spares.starts, spares.unused = 3, 2, 5, 1
    got = samples(app.test_client())
    assert {name: got[(f"claude_proxy_spare_{name}_total", ())] for name in ("hits", "misses", "started", "unused")} \
        == {"hits": 3, "misses": 2, "started": 5, "unused": 1}
    assert got[("claude_proxy_spares_idle", ())] == 0
