"""Every answer of the app under gunicorn matches openapi.yaml and the official OpenAI schemas."""
import json

import pytest
import requests

from contract_tests.support import VERSION
from proxy.spec import Spec

SPEC = Spec()
ERRORS = {  # scenario: status, type, code
    "rate_limit": (429, "rate_limit_error", "rate_limit_exceeded"),
    "overloaded": (503, "server_error", "overloaded"),
    "server_error": (502, "server_error", "upstream_error"),
    "drop": (502, "server_error", "upstream_error"),
    "auth": (503, "server_error", "cli_not_logged_in"),
    "not_logged_in": (503, "server_error", "cli_not_logged_in"),
    "forbidden": (429, "rate_limit_error", "insufficient_quota"),
    "prompt_too_long": (400, "invalid_request_error", "context_length_exceeded"),
    "bad_request": (400, "invalid_request_error", None),
    "not_found": (404, "invalid_request_error", "model_not_found"),
    "oom_killed": (502, "server_error", "cli_failed"),
    "usage_error": (502, "server_error", "cli_failed"),
    "text_output": (502, "server_error", "cli_failed"),
}


def chat(server, content="Say hi", stream=False, **fields):
    body = {"model": "haiku", "messages": [{"role": "user", "content": content}], **fields}
    if stream:
        body["stream"] = True
    return requests.post(server.url + "/v1/chat/completions", json=body, stream=stream, timeout=30)


def check(operation_id, response, official, definition):
    payload = response.json()
    SPEC.response_validator(operation_id, response.status_code).validate(payload)
    official(definition).validate(payload)
    return payload


def frames(response):
    """The data payloads of an SSE response, read one event at a time."""
    out = []
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            out.append(line[6:] if line == "data: [DONE]" else json.loads(line[6:]))
        else:
            assert line == "" or line.startswith(":"), line
    return out


def test_routes_and_spec_operations_match_one_to_one(server):
    from proxy import create_app
    from proxy.config import Settings

    app = create_app(Settings(claude_path=server.claude))
    routes = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    operations = {(p.replace("{", "<").replace("}", ">"), m.upper()) for m, p in SPEC.operations.values()}
    assert routes == operations
    assert {r.endpoint for r in app.url_map.iter_rules()} == set(SPEC.operations)


def test_answer(server, official):
    response = chat(server)
    body = check("createChatCompletion", response, official, "CreateChatCompletionResponse")
    assert response.status_code == 200
    assert body["choices"][0]["message"]["content"] == "Hello! How can I help you today?"
    assert body["model"] == "claude-haiku-5-5"


def test_a_request_without_a_model_gets_the_default(server, official):
    response = requests.post(server.url + "/v1/chat/completions", json={"messages": [
        {"role": "user", "content": "Say hi, no model named"}]}, timeout=30)
    check("createChatCompletion", response, official, "CreateChatCompletionResponse")
    argv = server.call_with("Say hi, no model named")["argv"]
    assert argv[argv.index("--model") + 1] == "haiku"


def test_prompt_reaches_the_cli_on_stdin_only(server):
    prompt = '--settings={"hooks":{}} --version [stub:success]'
    assert chat(server, prompt).status_code == 200
    call = server.call_with(prompt)
    assert call["prompt"] == prompt
    assert not any("--settings=" in arg or "stub:success" in arg for arg in call["argv"])
    assert call["cwd_entries"] == []


def test_multi_turn_reaches_the_cli_as_a_transcript(server, official):
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi, I'm Bob."}, {"role": "assistant", "content": "Hello Bob!"},
                {"role": "user", "content": "What is my name? [stub:multi_turn]"}]
    response = requests.post(server.url + "/v1/chat/completions", json={"model": "haiku", "messages": messages},
                             timeout=30)
    check("createChatCompletion", response, official, "CreateChatCompletionResponse")
    call = server.call_with("What is my name? [stub:multi_turn]")
    assert call["system_prompt"] == "You are terse."
    assert [(r["type"], r["message"]["content"][0]["text"]) for r in call["history"]] == [
        ("user", "Hi, I'm Bob."), ("assistant", "Hello Bob!")]
    assert call["prompt"] == "What is my name? [stub:multi_turn]"


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error(server, official, name):
    response = chat(server, f"Say hi [stub:{name}]")
    body = check("createChatCompletion", response, official, "ErrorResponse")
    status, kind, code = ERRORS[name]
    assert (response.status_code, body["error"]["type"], body["error"]["code"]) == (status, kind, code)
    assert "127.0.0.1" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize("body, status, param", [
    ({"model": "haiku"}, 400, "messages"),
    ({"model": "haiku", "messages": []}, 400, "messages"),
    ({"model": "--version", "messages": [{"role": "user", "content": "x"}]}, 400, "model"),
    ({"model": "haiku", "messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role"),
    ({"model": "haiku", "messages": [{"role": "user", "content": "x"}], "n": 3}, 400, "n"),
    ({"model": "haiku", "messages": [{"role": "user", "content": "x"}], "temperature": 9}, 400, "temperature"),
])
def test_invalid_body_is_a_400_naming_the_param(server, official, body, status, param):
    response = requests.post(server.url + "/v1/chat/completions", json=body, timeout=10)
    payload = check("createChatCompletion", response, official, "ErrorResponse")
    assert response.status_code == status
    assert payload["error"]["type"] == "invalid_request_error" and payload["error"]["param"] == param


def test_body_that_is_not_json_is_a_400(server, official):
    response = requests.post(server.url + "/v1/chat/completions", data="{not json",
                             headers={"Content-Type": "application/json"}, timeout=10)
    payload = check("createChatCompletion", response, official, "ErrorResponse")
    assert response.status_code == 400 and "JSON object" in payload["error"]["message"]


@pytest.mark.parametrize("method, path, status", [("GET", "/v1/nope", 404), ("GET", "/v1/chat/completions", 405),
                                                  ("DELETE", "/health", 405)])
def test_flask_errors_are_envelopes(server, official, method, path, status):
    response = requests.request(method, server.url + path, timeout=10)
    assert response.status_code == status
    official("ErrorResponse").validate(response.json())


def test_models(server, official):
    response = requests.get(server.url + "/v1/models", timeout=10)
    body = check("listModels", response, official, "ListModelsResponse")
    assert [m["id"] for m in body["data"]] == ["haiku", "sonnet", "opus", "fable"]
    one = requests.get(server.url + "/v1/models/claude-sonnet-4-5", timeout=10)
    assert check("retrieveModel", one, official, "Model")["id"] == "claude-sonnet-4-5"
    missing = requests.get(server.url + "/v1/models/gpt-4o", timeout=10)
    assert missing.status_code == 404 and check("retrieveModel", missing, official, "ErrorResponse")[
        "error"]["code"] == "model_not_found"


def test_health(server):
    response = requests.get(server.url + "/health", timeout=10)
    body = response.json()
    SPEC.response_validator("getHealth", 200).validate(body)
    assert body == {"status": "ok", "model": "haiku", "effort": None, "cli_version": VERSION,
                    "cli_path": server.claude, "host_hidden": True,
                    "concurrency": {"limit": 4, "queue_size": 64, "running": 0, "queued": 0},
                    "warm": {"enabled": False, "idle": 0, "hits": 0, "misses": 0,
                             "started": 0, "unused": 0}}


# --- streams ---------------------------------------------------------------------------------------

def test_stream_chunks_validate_one_event_at_a_time(server, official):
    response = chat(server, "Count [stub:slow]", stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    events = frames(response)
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        SPEC.schema_validator("CreateChatCompletionStreamResponse").validate(event)
        official("CreateChatCompletionStreamResponse").validate(event)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-2])
    assert text == "one two three four five six"
    assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] > 0


def test_stream_failing_before_the_model_starts_gets_the_json_status(server, official):
    response = chat(server, "Say hi [stub:rate_limit]", stream=True)
    assert response.status_code == 429
    check("createChatCompletion", response, official, "ErrorResponse")


def test_stream_failing_after_the_start_ends_with_an_error_frame(server):
    events = frames(chat(server, "Say hi [stub:stream_error]", stream=True))
    assert events[-1] == "[DONE]"
    SPEC.schema_validator("StreamErrorEvent").validate(events[-2])
    assert events[-2]["error"]["code"] == "overloaded"


# --- tools and structured output -------------------------------------------------------------------

def scenario(name):
    from harness.record_scenarios import SCENARIOS
    return next(s.request for s in SCENARIOS if s.name == name)


@pytest.mark.parametrize("name, finish", [("tools_call", "tool_calls"), ("tools_parallel", "tool_calls"),
                                          ("tools_named", "tool_calls"), ("tools_required_retry", "tool_calls"),
                                          ("tools_text", "stop"), ("tools_round_trip", "stop"),
                                          ("json_schema", "stop"), ("json_object", "stop"), ("image", "stop")])
def test_structured_answers_match_both_schemas(server, official, name, finish):
    response = requests.post(server.url + "/v1/chat/completions", json=scenario(name), timeout=30)
    body = check("createChatCompletion", response, official, "CreateChatCompletionResponse")
    assert body["choices"][0]["finish_reason"] == finish


@pytest.mark.parametrize("name", ["tools_parallel", "json_schema"])
def test_structured_streams_match_both_schemas(server, official, name):
    response = requests.post(server.url + "/v1/chat/completions", json=scenario(name) | {"stream": True},
                             stream=True, timeout=30)
    events = frames(response)
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        SPEC.schema_validator("CreateChatCompletionStreamResponse").validate(event)
        official("CreateChatCompletionStreamResponse").validate(event)


def test_an_image_reaches_the_cli_as_a_stream_json_message(server):
    body = json.loads(json.dumps(scenario("image")))
    body["messages"][0]["content"][0]["text"] += " (which run is mine)"
    response = requests.post(server.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200
    call = server.call_with("(which run is mine)")
    assert call["argv"][call["argv"].index("--input-format") + 1] == "stream-json"
    assert [b["type"] for b in call["prompt"]] == ["text", "image"]
