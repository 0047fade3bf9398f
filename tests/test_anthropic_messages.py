"""POST /v1/messages over recorded CLI runs: message objects, Anthropic's stream events, errors."""
import json

import pytest

from harness.record_scenarios import SCENARIOS
from proxy.api.anthropic_messages import MessageStream
from proxy.answer import Answer
from tests.test_failures import CASES

HI = {"model": "haiku", "max_tokens": 1024, "messages": [{"role": "user", "content": "Say hi"}]}
WEATHER = {"name": "get_weather", "description": "The current weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "description": "The local time in a time zone.",
        "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}
# Anthropic's error type for each recorded failure (the status is the proxy's, but for 529).
TYPES = {"rate_limit": (429, "rate_limit_error"), "overloaded": (529, "overloaded_error"),
         "server_error": (502, "api_error"), "drop": (502, "api_error"), "auth": (503, "api_error"),
         "forbidden": (429, "billing_error"), "not_logged_in": (503, "api_error"),
         "prompt_too_long": (400, "invalid_request_error"), "bad_request": (400, "invalid_request_error"),
         "not_found": (404, "not_found_error")}


def post(client, body=None, headers=None, **fields):
    return client.post("/v1/messages", json=(body or HI) | fields, headers=headers)


def sse(data):
    """Split an Anthropic SSE body into (event name, payload) pairs, checking each names its payload's type."""
    out = []
    for block in data.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        name, payload = name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))
        assert name == payload["type"], block
        out.append((name, payload))
    return out


@pytest.fixture
def valid(app):
    """Validate a payload against a schema of openapi.yaml."""
    spec = app.extensions["spec"]

    def validate(name, payload):
        spec.schema_validator(name).validate(payload)
        return payload

    return validate


def test_answer_is_a_message(client, replay, valid):
    replay("success")
    response = post(client)
    assert response.status_code == 200
    body = valid("AnthropicMessage", response.get_json())
    assert body["id"].startswith("msg_") and body["model"] == "claude-haiku-5-5"
    assert body["content"] == [{"type": "text", "text": "Hello! How can I help you today?"}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    assert response.headers["request-id"] == response.headers["x-request-id"]
    assert response.headers["request-id"].startswith("req_") and float(response.headers["x-claude-cost-usd"]) > 0


def test_usage_has_the_cache_reads_and_writes_apart(client, replay):
    replay("cached")
    usage = post(client).get_json()["usage"]
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (100, 20)


def test_max_tokens_ends_the_message_at_the_first_turn(client, replay):
    replay("max_tokens")
    body = post(client, max_tokens=10).get_json()
    assert body["stop_reason"] == "max_tokens" and body["content"][0]["text"] == "This answer is cut"


def test_a_stop_sequence_cuts_the_text_and_is_named(client, replay):
    replay("success")
    body = post(client, stop_sequences=["can I"]).get_json()
    assert body["content"] == [{"type": "text", "text": "Hello! How "}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "can I")


@pytest.mark.parametrize("thinking, shown", [(None, False), ({"type": "enabled", "budget_tokens": 1024}, True),
                                             ({"type": "adaptive"}, True),
                                             ({"type": "adaptive", "display": "omitted"}, False),
                                             ({"type": "disabled"}, False)])
def test_thinking_is_a_block_only_when_the_client_asks_to_see_it(client, replay, valid, thinking, shown):
    replay("thinking")
    fields = {"thinking": thinking, "max_tokens": 2048} if thinking else {}
    body = valid("AnthropicMessage", post(client, **fields).get_json())
    expected = [{"type": "thinking", "thinking": "Let me think about that.", "signature": ""}] if shown else []
    assert body["content"] == expected + [{"type": "text", "text": "The answer is 4."}]


def test_a_tool_call_is_a_tool_use_block_with_an_id(client, replay, valid):
    replay("tools_call")
    body = valid("AnthropicMessage", post(client, tools=[WEATHER, TIME]).get_json())
    assert body["stop_reason"] == "tool_use"
    [text, call] = body["content"]
    assert text == {"type": "text", "text": "Let me check."}
    assert call["type"] == "tool_use" and call["id"].startswith("toolu_") and call["name"] == "get_weather"
    assert call["input"] == {"city": "Paris"}


def test_parallel_calls_get_ids_of_their_own(client, replay):
    replay("tools_parallel")
    calls = [b for b in post(client, tools=[WEATHER, TIME]).get_json()["content"] if b["type"] == "tool_use"]
    assert [c["name"] for c in calls] == ["get_weather", "get_time"] and len({c["id"] for c in calls}) == 2


def test_a_json_output_format_is_the_text_block(client, replay):
    replay("json_schema")
    schema = SCENARIOS_BY_NAME["json_schema"]["response_format"]["json_schema"]["schema"]
    body = post(client, output_config={"format": {"type": "json_schema", "schema": schema}}).get_json()
    assert json.loads(body["content"][0]["text"]) == {"city": "Paris", "population": 1}


SCENARIOS_BY_NAME = {s.name: s.request for s in SCENARIOS if s.request}


@pytest.mark.parametrize("name", sorted(TYPES))
def test_cli_failure_is_an_anthropic_error(client, replay, valid, name):
    replay(name)
    response = post(client)
    status, kind = TYPES[name]
    body = valid("AnthropicErrorResponse", response.get_json())
    assert (response.status_code, body["type"], body["error"]["type"]) == (status, "error", kind)
    assert CASES[name][3].lower() in body["error"]["message"].lower()
    assert body["request_id"] == response.headers["request-id"]


def test_overloaded_is_a_529_that_says_when_to_retry(client, replay):
    replay("overloaded")
    response = post(client)
    assert response.status_code == 529 and response.headers["Retry-After"] == "5"


def test_deadline_is_a_504_timeout_error(app, replay):
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(timeout=0.5)
    replay("hang")
    response = post(app.test_client())
    assert response.status_code == 504 and response.get_json()["error"]["type"] == "timeout_error"


@pytest.mark.parametrize("body, param", [
    ({"model": "haiku", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
    (HI | {"messages": []}, "messages"),
    (HI | {"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    (HI | {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
     "messages[0].content[0].type"),
])
def test_an_invalid_body_is_an_invalid_request_error_naming_the_field(client, valid, body, param):
    response = client.post("/v1/messages", json=body)
    payload = valid("AnthropicErrorResponse", response.get_json())
    assert response.status_code == 400 and payload["error"]["type"] == "invalid_request_error"
    assert f"'{param}'" in payload["error"]["message"]


# --- streaming -----------------------------------------------------------------------------------

def stream(client, **fields):
    response = post(client, stream=True, **fields)
    return response, sse(response.get_data())


def test_stream_is_anthropics_events_in_order(client, replay, valid):
    replay("slow")
    response, frames = stream(client)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["request-id"].startswith("req_")
    for _, payload in frames:
        valid("AnthropicStreamEvent", payload)
    names = [name for name, _ in frames]
    assert names == ["message_start", "content_block_start"] + ["content_block_delta"] * 6 + [
        "content_block_stop", "message_delta", "message_stop"]
    start = frames[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    assert "".join(p["delta"]["text"] for n, p in frames if n == "content_block_delta") == "one two three four five six"
    delta = frames[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None} and delta["usage"]["output_tokens"] > 0


def test_streamed_thinking_is_its_own_block_before_the_text(client, replay, valid):
    replay("thinking")
    _, frames = stream(client, thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048)
    blocks = [(p["index"], p["content_block"]["type"]) for n, p in frames if n == "content_block_start"]
    assert blocks == [(0, "thinking"), (1, "text")]
    deltas = [(p["index"], p["delta"]["type"]) for n, p in frames if n == "content_block_delta"]
    assert {d for d in deltas} == {(0, "thinking_delta"), (1, "text_delta")}
    stops = [p["index"] for n, p in frames if n == "content_block_stop"]
    assert stops == [0, 1]


def test_streamed_tool_calls_are_tool_use_blocks_with_their_input_as_json(client, replay, valid):
    replay("tools_parallel")
    _, frames = stream(client, tools=[WEATHER, TIME])
    for _, payload in frames:
        valid("AnthropicStreamEvent", payload)
    starts = [p["content_block"] for n, p in frames if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use", "tool_use"]
    assert all(b["input"] == {} and b["id"].startswith("toolu_") for b in starts[1:])
    inputs = [json.loads(p["delta"]["partial_json"]) for n, p in frames if n == "content_block_delta"
              and p["delta"]["type"] == "input_json_delta"]
    assert inputs == [{"city": "Paris"}, {"zone": "Paris"}]
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_a_streamed_json_answer_comes_as_one_text_block(client, replay):
    replay("json_schema")
    schema = SCENARIOS_BY_NAME["json_schema"]["response_format"]["json_schema"]["schema"]
    _, frames = stream(client, output_config={"format": {"type": "json_schema", "schema": schema}})
    texts = [p["delta"]["text"] for n, p in frames if n == "content_block_delta"]
    assert [json.loads(t) for t in texts] == [{"city": "Paris", "population": 1}]


@pytest.mark.parametrize("name", ["rate_limit", "overloaded", "not_logged_in"])
def test_stream_failing_before_the_model_starts_gets_the_json_status(client, replay, name):
    replay(name)
    response = post(client, stream=True)
    assert response.status_code == TYPES[name][0]
    assert response.get_json()["error"]["type"] == TYPES[name][1]


def test_stream_failing_after_the_first_byte_ends_with_an_error_event(client, replay, valid):
    replay("stream_error")
    response, frames = stream(client)
    assert response.status_code == 200
    name, error = frames[-1]
    assert name == "error" and valid("AnthropicErrorResponse", error)["error"]["type"] == "overloaded_error"
    assert "".join(p["delta"]["text"] for n, p in frames if n == "content_block_delta") == "Partial answer that"
    assert "message_delta" not in [n for n, _ in frames]


def test_silence_is_filled_with_ping_events():
    encoder = MessageStream(Answer("haiku"))
    assert encoder.keepalive() == 'event: ping\ndata: {"type": "ping"}\n\n'



def test_count_tokens_is_a_404_saying_why_no_count_is_given(client, valid):
    response = client.post("/v1/messages/count_tokens", json={"model": "haiku", "messages": [
        {"role": "user", "content": "Hi"}]})
    body = valid("AnthropicErrorResponse", response.get_json())
    assert response.status_code == 404 and body["error"]["type"] == "not_found_error"
    message = body["error"]["message"]
    assert "no exact count" in message and "estimate is not given as a count" in message
