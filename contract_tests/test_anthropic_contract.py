"""Every Messages API answer of the app under gunicorn matches openapi.yaml and the `anthropic` SDK's types.

The SDK's types are generated from Anthropic's own API specification, so a payload that passes
both the spec's closed schemas and those types has the official shape.
"""
import json

import anthropic.types as official
import pydantic
import pytest
import requests

from contract_tests.support import Server
from contract_tests.test_contract import SPEC, scenario
from tests.test_anthropic_messages import TIME, TYPES, WEATHER

HEADERS = {"anthropic-version": "2023-06-01"}
STREAM_EVENT = pydantic.TypeAdapter(official.RawMessageStreamEvent)
ERROR = official.shared.ErrorResponse


def create(server, content="Say hi", stream=False, **fields):
    body = {"model": "haiku", "max_tokens": 1024, "messages": [{"role": "user", "content": content}], **fields}
    return requests.post(server.url + "/v1/messages", json=body | ({"stream": True} if stream else {}),
                         headers=HEADERS, stream=stream, timeout=30)


def message(response):
    payload = response.json()
    SPEC.response_validator("createMessage", response.status_code).validate(payload)
    official.Message.model_validate(payload)
    return payload


def error(response):
    payload = response.json()
    SPEC.response_validator("createMessage", response.status_code).validate(payload)
    ERROR.model_validate(payload)
    return payload


def events(response):
    """The (name, payload) of each event, each validated on its own as it arrives."""
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    out, name = [], None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            payload = json.loads(line[6:])
            assert payload["type"] == name
            SPEC.schema_validator("AnthropicStreamEvent").validate(payload)
            if name == "error":
                ERROR.model_validate(payload)
            elif name != "ping":  # the SDK's union leaves ping out: it reads and drops it
                STREAM_EVENT.validate_python(payload)
            out.append((name, payload))
        else:
            assert line == "", line
    return out


def test_answer(server):
    response = create(server)
    assert response.status_code == 200 and response.headers["request-id"].startswith("req_")
    body = message(response)
    assert body["content"] == [{"type": "text", "text": "Hello! How can I help you today?"}]


def test_stream_events_in_anthropics_order(server):
    frames = events(create(server, "Count [stub:slow]", stream=True))
    names = [n for n, _ in frames]
    assert names[:2] == ["message_start", "content_block_start"] and names[-3:] == [
        "content_block_stop", "message_delta", "message_stop"]
    assert "".join(p["delta"]["text"] for n, p in frames if n == "content_block_delta") == "one two three four five six"


def test_a_thinking_stream(server):
    frames = events(create(server, "Think [stub:thinking]", stream=True, thinking={"type": "adaptive"}))
    assert [p["content_block"]["type"] for n, p in frames if n == "content_block_start"] == ["thinking", "text"]


@pytest.mark.parametrize("name", ["tools_call", "tools_parallel", "tools_named", "tools_text"])
def test_tool_answers(server, name):
    choice = {"tool_choice": {"type": "tool", "name": "get_time"}} if name == "tools_named" else {}
    text = "Say hi" if name == "tools_text" else "Weather in Paris?"
    body = message(create(server, f"{text} [stub:{name}]", tools=[WEATHER, TIME], **choice))
    assert body["stop_reason"] == ("end_turn" if name == "tools_text" else "tool_use")


@pytest.mark.parametrize("name", ["tools_parallel", "json_schema"])
def test_structured_streams(server, name):
    fields = {"tools": [WEATHER, TIME]} if name.startswith("tools") else {"output_config": {"format": {
        "type": "json_schema", "schema": scenario("json_schema")["response_format"]["json_schema"]["schema"]}}}
    frames = events(create(server, f"Go [stub:{name}]", stream=True, **fields))
    assert frames[-1][0] == "message_stop"


def test_a_tool_result_continues_the_conversation(server):
    messages = [{"role": "user", "content": "Weather and time in Paris? [stub:tools_round_trip]"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {"zone": "CET"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                                             {"type": "tool_result", "tool_use_id": "toolu_2", "content": "14:05"}]}]
    response = requests.post(server.url + "/v1/messages", headers=HEADERS, timeout=30, json={
        "model": "haiku", "max_tokens": 1024, "tools": [WEATHER, TIME], "messages": messages})
    assert message(response)["stop_reason"] == "end_turn"


@pytest.mark.parametrize("name", sorted(TYPES))
def test_errors(server, name):
    response = create(server, f"Say hi [stub:{name}]")
    body = error(response)
    assert (response.status_code, body["error"]["type"]) == TYPES[name]
    assert "127.0.0.1" not in response.text and "Traceback" not in response.text


def test_a_failure_before_the_stream_starts_has_its_status(server):
    response = create(server, "Say hi [stub:rate_limit]", stream=True)
    assert response.status_code == 429 and error(response)["error"]["type"] == "rate_limit_error"


@pytest.fixture(scope="module")
def short_server(tmp_path_factory):
    """A CLI deadline of 3 s and a keep-alive every second: a stalled answer (silent once its message
    began, however fast the recording machine was) gets pings, then the deadline."""
    s = Server(tmp_path_factory.mktemp("short"), CLAUDE_TIMEOUT="3", SSE_KEEPALIVE="1")
    yield s
    s.stop()


def test_a_silent_stream_gets_pings_and_ends_with_a_timeout_error_event(short_server):
    frames = events(create(short_server, "Think [stub:stall]", stream=True))
    names = [n for n, _ in frames]
    assert names[0] == "message_start" and names.count("ping") >= 2  # about one a second over the 3 s
    assert frames[-1][0] == "error" and frames[-1][1]["error"]["type"] == "timeout_error"


def test_a_failure_mid_stream_is_an_error_event(server):
    frames = events(create(server, "Say hi [stub:stream_error]", stream=True))
    assert frames[-1][0] == "error" and frames[-1][1]["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("body", [{}, {"model": "haiku", "messages": [{"role": "user", "content": "x"}]},
                                  {"model": "haiku", "max_tokens": 5, "messages": [{"role": "user", "content": [
                                      {"type": "document", "source": {}}]}]}])
def test_invalid_bodies(server, body):
    response = requests.post(server.url + "/v1/messages", json=body, headers=HEADERS, timeout=10)
    assert response.status_code == 400 and error(response)["error"]["type"] == "invalid_request_error"


def test_count_tokens(server):
    response = requests.post(server.url + "/v1/messages/count_tokens", headers=HEADERS, timeout=10, json={
        "model": "haiku", "messages": [{"role": "user", "content": "Say hi"}]})
    assert response.status_code == 404
    SPEC.response_validator("countMessageTokens", 404).validate(response.json())
    ERROR.model_validate(response.json())


@pytest.mark.parametrize("method, path, status", [("GET", "/v1/messages", 405), ("GET", "/v1/nope", 404)])
def test_unknown_routes(server, method, path, status):
    response = requests.request(method, server.url + path, headers=HEADERS, timeout=10)
    assert response.status_code == status
    ERROR.model_validate(response.json())


def test_models(server):
    response = requests.get(server.url + "/v1/models", headers=HEADERS, timeout=10)
    body = response.json()
    SPEC.response_validator("listModels", 200).validate(body)
    for model in body["data"]:
        official.ModelInfo.model_validate(model)
    one = requests.get(server.url + "/v1/models/sonnet", headers=HEADERS, timeout=10).json()
    SPEC.response_validator("retrieveModel", 200).validate(one)
    official.ModelInfo.model_validate(one)
