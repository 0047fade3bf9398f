"""POST /v1/chat/completions over recorded CLI runs: answers, errors, streams."""
import pytest

from tests.support import sse_events
from tests.test_failures import CASES

HI = {"model": "haiku", "messages": [{"role": "user", "content": "Say hi"}]}


def post(client, **fields):
    return client.post("/v1/chat/completions", json=HI | fields)


def test_answer_is_a_chat_completion(client, replay, check):
    replay("success")
    response = post(client)
    assert response.status_code == 200
    body = check("createChatCompletion", 200, response.get_json(), "CreateChatCompletionResponse")
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "claude-haiku-5-5"
    assert body["choices"] == [{"index": 0, "logprobs": None, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Hello! How can I help you today?", "refusal": None}}]
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    assert float(response.headers["x-claude-cost-usd"]) > 0
    assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_failure_is_an_openai_error(client, replay, check, name):
    replay(name)
    response = post(client)
    status, kind, code, words = CASES[name]
    body = check("createChatCompletion", status, response.get_json(), "ErrorResponse")
    assert response.status_code == status
    assert (body["error"]["type"], body["error"]["code"]) == (kind, code)
    assert words.lower() in body["error"]["message"].lower()
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_overloaded_says_when_to_retry(client, replay):
    replay("overloaded")
    assert post(client).headers["Retry-After"] == "5"


@pytest.mark.parametrize("name, words", [
    ("oom_killed", "killed by signal 9"),
    ("usage_error", "exited with status 1 without an answer: Error: When using --print"),
    ("text_output", "printed output that is not stream-json"),
])
def test_a_crashed_cli_is_a_502_naming_how_it_ended(client, replay, check, name, words):
    replay(name)
    response = post(client)
    body = check("createChatCompletion", 502, response.get_json(), "ErrorResponse")
    assert response.status_code == 502 and body["error"]["code"] == "cli_failed"
    assert words in body["error"]["message"]


def test_deadline_is_a_504_timeout_error(app, replay, check, fp):
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(timeout=0.5)
    replay("hang")
    response = post(app.test_client())
    body = check("createChatCompletion", 504, response.get_json(), "ErrorResponse")
    assert response.status_code == 504
    assert body["error"]["type"] == "timeout_error" and "CLAUDE_TIMEOUT" in body["error"]["message"]


def test_missing_cli_is_a_503_naming_claude_path(client, app, fp):
    fp.allow_unregistered(True)
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(claude_path="/nonexistent/claude")
    response = post(client)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "cli_unavailable"
    assert "CLAUDE_PATH='/nonexistent/claude'" in response.get_json()["error"]["message"]


def test_max_tokens_is_a_length_finish_with_the_first_turn_only(client, replay):
    replay("max_tokens")
    body = post(client, max_tokens=10).get_json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == "This answer is cut"


def test_stop_sequence_cuts_the_content(client, replay):
    replay("success")
    body = post(client, stop=["can I"]).get_json()
    assert body["choices"][0]["message"]["content"] == "Hello! How "
    assert body["choices"][0]["finish_reason"] == "stop"


# --- streaming -----------------------------------------------------------------------------------

def stream(client, **fields):
    response = post(client, stream=True, **fields)
    return response, sse_events(response.get_data())


def test_stream_is_chunks_then_done(client, replay, check):
    replay("slow")
    response, frames = stream(client)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    for chunk in chunks:
        check("createChatCompletion", 200, chunk, "CreateChatCompletionStreamResponse")
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]] == [
        "one ", "two ", "three ", "four ", "five ", "six"]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert all("usage" not in c for c in chunks)


def test_stream_usage_comes_last_with_no_choices(client, replay):
    replay("success")
    _, frames = stream(client, stream_options={"include_usage": True})
    usage_chunk = frames[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    assert frames[-3]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("name", ["rate_limit", "not_logged_in", "prompt_too_long", "overloaded"])
def test_stream_failing_before_the_model_starts_gets_the_json_status(client, replay, name):
    replay(name)
    response = post(client, stream=True)
    assert response.status_code == CASES[name][0]
    assert response.get_json()["error"]["code"] == CASES[name][2]


def test_stream_failing_after_the_first_byte_ends_with_an_error_frame(client, replay, check):
    replay("stream_error")
    response, frames = stream(client)
    assert response.status_code == 200
    assert frames[-1] == "[DONE]"
    error = frames[-2]
    app_spec_error = client.application.extensions["spec"].schema_validator("StreamErrorEvent")
    app_spec_error.validate(error)
    assert error["error"]["type"] == "server_error" and error["error"]["code"] == "overloaded"
    assert "".join(f["choices"][0]["delta"].get("content", "") for f in frames[:-2]) == "Partial answer that"
    assert all(f["choices"][0]["finish_reason"] is None for f in frames[:-2])


def test_stream_of_a_max_tokens_answer_finishes_with_length(client, replay):
    replay("max_tokens")
    _, frames = stream(client, max_tokens=10)
    assert frames[-2]["choices"][0]["finish_reason"] == "length"
    assert "".join(f["choices"][0]["delta"].get("content", "") for f in frames[:-1]) == "This answer is cut"


def test_thinking_is_left_out_by_default(client, replay):
    replay("thinking")
    message = post(client).get_json()["choices"][0]["message"]
    assert message["content"] == "The answer is 4." and "reasoning_content" not in message


def test_thinking_can_be_exposed_as_reasoning_content(app, replay, check):
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(reasoning=True)
    replay("thinking")
    body = check("createChatCompletion", 200, post(app.test_client()).get_json(), "CreateChatCompletionResponse")
    assert body["choices"][0]["message"]["reasoning_content"] == "Let me think about that."
    replay("thinking")
    _, frames = stream(app.test_client())
    deltas = [f["choices"][0]["delta"] for f in frames[:-1]]
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "Let me think about that."
    assert "".join(d.get("content") or "" for d in deltas) == "The answer is 4."
    assert all(not (d.get("content") and d.get("reasoning_content")) for d in deltas)
