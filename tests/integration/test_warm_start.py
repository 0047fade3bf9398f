"""CLIs started ahead of requests: the upstream request is the cold run's, and spares serve requests.

The fidelity tests run the real CLI twice per case against the stub: cold (started with the
request) and warm (started with only what the CLI reads at start-up, then bound with control
requests), and compare what the stub received, leaving out the session id and each run's own
directory.
"""
import copy
import json
import signal
import time

import pytest
import requests

from contract_tests.support import Server, descendants
from tests.support import alive
from harness.record_scenarios import BOB, CITY, PNG, WEATHER
from proxy import cli, seeds, tools
from proxy.command import CliInput, environment
from proxy.config import Settings

pytestmark = pytest.mark.integration
SAY_HI = ({"type": "text", "text": "Say hi"},)
FUNCTIONS = tools.plan_tools({"get_weather": WEATHER["function"]}, "auto")
CASES = {
    "plain": CliInput(model="haiku", message=SAY_HI),
    "system prompt": CliInput(model="haiku", message=SAY_HI, system_prompt="You are terse.\nAnswer in French."),
    "model": CliInput(model="sonnet", message=SAY_HI),
    "effort high": CliInput(model="haiku", message=SAY_HI, effort="high"),
    "effort max": CliInput(model="opus", message=SAY_HI, effort="max"),
    "max tokens": CliInput(model="haiku", message=SAY_HI, max_output_tokens=1000),
    "tools": CliInput(model="haiku", message=({"type": "text", "text": "Weather? [stub:tools_call]"},),
                      system_prompt=FUNCTIONS.system, json_schema=FUNCTIONS.schema),
    "response format": CliInput(model="haiku", message=({"type": "text", "text": "Paris [stub:json_schema]"},),
                                json_schema=CITY, max_turns=3),
    "image": CliInput(model="haiku", message=({"type": "text", "text": "What is this?"}, {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": PNG}})),
    "resumed conversation": CliInput(model="haiku", message=({"type": "text", "text": "What is my name?"},),
                                     history=BOB, system_prompt="Remember names.", effort="low"),
}


@pytest.fixture(scope="module")
def cli_settings(claude, stub, home):
    settings = Settings(claude_path=claude, timeout=60)
    env = {"ANTHROPIC_BASE_URL": stub.url, "ANTHROPIC_API_KEY": "sk-test", "HOME": str(home)}
    return settings, env, seeds.capture(settings, dict(environment(settings), **env))


def bodies(upstream, run):
    out = []
    for post in upstream.posts:
        body = copy.deepcopy(post["body"])
        body.pop("metadata")  # the session id
        out.append(json.loads(json.dumps(body).replace(run.cwd, "<cwd>")))
    return out


def finish(run):
    try:
        return [event for event in run.events()]
    finally:
        run.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_warm_run_sends_the_upstream_request_of_a_cold_run(cli_settings, stub, case):
    settings, env, captured = cli_settings
    wanted = CASES[case]
    start = len(stub.requests)
    cold = cli.CliRun(settings, wanted, captured, extra_env=env)
    cold_events = finish(cold)

    class Seen:
        posts = [r for r in stub.requests[start:] if r["path"].startswith("/v1/messages")]
    cold_bodies, start = bodies(Seen, cold), len(stub.requests)
    spare = cli.CliRun(settings, CliInput(model=wanted.model, message=(), history=wanted.history,
                                          max_turns=wanted.max_turns), captured, start_input=False, extra_env=env)
    time.sleep(1.5)  # started ahead: the request comes later (the comparison holds whatever the delay)
    spare.send(settings, wanted)
    warm_events = finish(spare)
    Seen.posts = [r for r in stub.requests[start:] if r["path"].startswith("/v1/messages")]
    assert cold_bodies and bodies(Seen, spare) == cold_bodies
    results = [[e for e in events if e["type"] == "result"] for events in (cold_events, warm_events)]
    assert [r[0]["is_error"] for r in results] == [False, False]
    assert [r[0].get("structured_output") for r in results][0] == [r[0].get("structured_output") for r in results][1]
    errors = [e for e in warm_events if e["type"] == "control_response" and e["response"]["subtype"] == "error"]
    assert errors == []


# --- through the server ------------------------------------------------------------------------

@pytest.fixture
def warm_server(tmp_path, claude, stub, home):
    s = Server(tmp_path, claude=claude, HOME=str(home), ANTHROPIC_BASE_URL=stub.url, ANTHROPIC_API_KEY="sk-test",
               CLAUDE_TIMEOUT="60", WARM_SPARES="1", WARM_CONVERSATIONS="2")
    yield s
    s.stop()


def warm(server):
    return requests.get(server.url + "/health", timeout=10).json()["warm"]


def wait_for_spares(server, count, seconds=60):
    deadline = time.monotonic() + seconds
    while warm(server)["idle"] < count:
        assert time.monotonic() < deadline, f"no {count} spare(s) after {seconds} s: {warm(server)}"
        time.sleep(0.1)


def chat(server, messages, **fields):
    response = requests.post(server.url + "/v1/chat/completions", timeout=60,
                             json={"model": "haiku", "messages": messages, **fields})
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]


def test_single_turn_requests_and_a_conversation_are_served_by_spares(warm_server, upstream):
    wait_for_spares(warm_server, 1)
    assert warm(warm_server)["enabled"] is True
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi, I'm Bob."}]
    first = chat(warm_server, messages)
    assert warm(warm_server)["hits"] == 1
    # The second step runs cold: that a conversation's next request comes is learnt from this one.
    messages += [{"role": "assistant", "content": first["content"]}, {"role": "user", "content": "My name?"}]
    second = chat(warm_server, messages)
    assert warm(warm_server)["misses"] == 1
    wait_for_spares(warm_server, 2)  # a generic spare, and one for this conversation's next request
    messages += [{"role": "assistant", "content": second["content"]}, {"role": "user", "content": "And again?"}]
    chat(warm_server, messages)
    assert warm(warm_server)["hits"] == 2 and warm(warm_server)["misses"] == 1
    assert [m["role"] for m in upstream.posts[-1]["body"]["messages"] if m["role"] != "system"] == [
        "user", "assistant", "user", "assistant", "user"]


def test_an_agent_loop_is_served_by_spares(warm_server):
    wait_for_spares(warm_server, 1)
    messages = [{"role": "user", "content": "Weather in Paris? [stub:tools_call]"}]
    for step in range(3):
        reply = chat(warm_server, messages, tools=[WEATHER])
        [call] = reply["tool_calls"]  # the stub calls again: the loop's next step
        messages += [reply, {"role": "tool", "tool_call_id": call["id"], "content": "18C, sunny"}]
        if step:
            wait_for_spares(warm_server, 2)
    # the first step takes the generic spare; the second, cold, shows that the loop goes on
    assert (warm(warm_server)["hits"], warm(warm_server)["misses"]) == (2, 1)


def test_no_spare_outlives_the_server(warm_server):
    wait_for_spares(warm_server, 1)
    started = descendants(warm_server.proc.pid)
    assert started
    warm_server.proc.send_signal(signal.SIGTERM)
    warm_server.proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if alive(pid)]
