"""Tools, structured output and images: the plan, the transcript, and answers over recorded runs."""
import json

import jsonschema
import pytest

from harness.record_scenarios import CITY, PNG, ROUND_TRIP, TIME, WEATHER
from proxy import tools
from proxy.api.openai_chat import finish_reason, tool_calls
from proxy.api.openai_chat_input import plan as chat_plan, to_cli_input
from proxy.command import build_command, stdin_bytes
from proxy.errors import InvalidRequest
from tests.support import settled, sse_events

ASK = {"model": "haiku", "messages": [{"role": "user", "content": "Weather in Paris?"}]}


def plan_of(**fields):
    return chat_plan(ASK | fields)


def branches(plan):
    return [b["properties"]["name"]["const"] for b in plan.schema["properties"]["tool_calls"]["items"]["anyOf"]]


def test_auto_offers_every_function_and_allows_text():
    plan = plan_of(tools=[WEATHER, TIME])
    assert branches(plan) == ["get_weather", "get_time"]
    assert plan.schema["properties"]["tool_calls"]["minItems"] == 1
    assert "maxItems" not in plan.schema["properties"]["tool_calls"]
    assert (plan.max_turns, plan.text_allowed) == (1, True)
    weather = plan.schema["properties"]["tool_calls"]["items"]["anyOf"][0]
    assert weather["properties"]["arguments"] == WEATHER["function"]["parameters"]
    assert weather["description"] == "The current weather in a city."
    assert "## get_weather\nThe current weather in a city." in plan.system
    assert "answer in plain text" in plan.system


def test_required_insists_and_lets_the_cli_ask_again():
    plan = plan_of(tools=[WEATHER, TIME], tool_choice="required")
    assert branches(plan) == ["get_weather", "get_time"]
    assert (plan.max_turns, plan.text_allowed) == (tools.RETRY_TURNS, False)
    assert "You must call at least one function now." in plan.system


def test_a_named_function_is_the_only_one_callable_once():
    plan = plan_of(tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert branches(plan) == ["get_time"] and plan.schema["properties"]["tool_calls"]["maxItems"] == 1
    assert "You must call `get_time` now." in plan.system and "## get_weather" in plan.system


def test_parallel_tool_calls_false_allows_one_call():
    assert plan_of(tools=[WEATHER], parallel_tool_calls=False).schema["properties"]["tool_calls"]["maxItems"] == 1


def test_none_only_describes_the_functions():
    plan = plan_of(tools=[WEATHER], tool_choice="none")
    assert plan.schema is None and "You cannot call these functions" in plan.system


def test_allowed_tools_limits_what_can_be_called():
    plan = plan_of(tools=[WEATHER, TIME], tool_choice={"type": "allowed_tools", "allowed_tools": {
        "mode": "required", "tools": [{"type": "function", "function": {"name": "get_time"}}]}})
    assert branches(plan) == ["get_time"] and plan.max_turns == tools.RETRY_TURNS


def test_legacy_functions_work_like_tools():
    plan = plan_of(functions=[WEATHER["function"]], function_call={"name": "get_weather"})
    assert branches(plan) == ["get_weather"]


@pytest.mark.parametrize("response_format, schema, wrapped", [
    ({"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}, CITY, False),
    ({"type": "json_object"}, {"type": "object"}, False),
    ({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array"}}},
     {"type": "object", "properties": {"value": {"type": "array"}}, "required": ["value"],
      "additionalProperties": False}, True),
])
def test_response_format_becomes_the_schema(response_format, schema, wrapped):
    plan = plan_of(response_format=response_format)
    assert (plan.kind, plan.schema, plan.wrapped, plan.max_turns) == ("json", schema, wrapped, tools.RETRY_TURNS)


def test_cli_is_given_the_schema_and_turns(settings, tmp_path):
    cli_input, _ = to_cli_input(ASK | {"tools": [WEATHER], "tool_choice": "required"}, settings)
    argv, _, _ = build_command(settings, cli_input, str(tmp_path))
    [initialize, _] = [json.loads(line) for line in stdin_bytes(cli_input).splitlines()]
    assert initialize["request"]["jsonSchema"] == chat_plan(ASK | {"tools": [WEATHER], "tool_choice": "required"}).schema
    assert argv[argv.index("--max-turns") + 1] == "3" and "--json-schema" not in argv


def test_round_trip_reaches_the_model_as_a_tool_use_and_its_result(settings):
    cli_input, _ = to_cli_input(ROUND_TRIP, settings)
    assert [role for role, _ in cli_input.history] == ["user", "assistant"]
    [call] = cli_input.history[1][1]
    assert call == {"type": "tool_use", "id": "toolu_history_00001", "name": "StructuredOutput", "input": {
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                       {"name": "get_time", "arguments": {"zone": "CET"}}]}}
    # The results are the last turn: the message the CLI sends, with nothing after them.
    [result] = cli_input.message
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_history_00001"
    assert json.loads(result["content"]) == [{"name": "get_weather", "content": "18C, sunny"},
                                             {"name": "get_time", "content": "14:05"}]
    assert cli_input.prompt == ""


def test_without_tools_earlier_calls_are_text(settings):
    body = dict(ROUND_TRIP, tools=None)
    cli_input, plan = to_cli_input(body | {"messages": ROUND_TRIP["messages"] + [
        {"role": "user", "content": "Thanks"}]}, settings)
    assert plan is None
    assert cli_input.history[1][1][0]["text"].startswith("[Called tool get_weather (id call_1)")
    assert all(b["type"] == "text" for _, blocks in cli_input.history for b in blocks)


def test_an_image_goes_as_a_stream_json_user_message(settings, tmp_path):
    body = {"model": "haiku", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]}
    cli_input, _ = to_cli_input(body, settings)
    argv, _, _ = build_command(settings, cli_input, str(tmp_path))
    assert argv[argv.index("--input-format") + 1] == "stream-json"
    assert json.loads(stdin_bytes(cli_input)) == {"type": "user", "message": {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}}


def test_a_remote_image_url_is_refused(settings):
    body = {"model": "haiku", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest"}}]}]}
    with pytest.raises(InvalidRequest) as caught:
        to_cli_input(body, settings)
    assert caught.value.param == "messages[0].content[0]" and "not fetched" in caught.value.message


# --- answers over the recordings ------------------------------------------------------------------

def answer_of(name):
    return settled(name, plan=chat_plan(scenario_request(name)))[0]


def scenario_request(name):
    from harness.record_scenarios import SCENARIOS
    return next(s.request for s in SCENARIOS if s.name == name)


@pytest.mark.parametrize("name, calls", [
    ("tools_call", [("get_weather", {"city": "Paris"})]),
    ("tools_parallel", [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "Paris"})]),
    ("tools_required_retry", [("get_weather", {"city": "Paris"})]),
    ("tools_named", [("get_time", {"zone": "Paris"})]),
])
def test_accepted_calls_become_tool_calls(name, calls):
    answer = answer_of(name)
    shaped = tool_calls(answer)
    assert answer.succeeded and finish_reason(answer) == "tool_calls"
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in shaped] == calls
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in shaped)
    assert len({c["id"] for c in shaped}) == len(calls)
    for call in shaped:
        parameters = {"get_weather": WEATHER, "get_time": TIME}[call["function"]["name"]]["function"]["parameters"]
        jsonschema.validate(json.loads(call["function"]["arguments"]), parameters)


def test_text_before_the_call_is_the_content():
    assert answer_of("tools_call").content == "Let me check."


def test_auto_text_answer_is_an_answer():
    answer = answer_of("tools_text")
    assert answer.succeeded and answer.tool_calls == []
    assert answer.content == "Hello! How can I help you today?" and finish_reason(answer) == "stop"


def test_round_trip_answer_is_text():
    answer = answer_of("tools_round_trip")
    assert answer.succeeded and answer.content == "Hello! How can I help you today?"


@pytest.mark.parametrize("name, content", [
    ("json_schema", {"city": "Paris", "population": 1}), ("json_schema_retry", {"city": "Paris", "population": 1}),
    ("json_object", {})])
def test_json_answers_are_the_content(name, content):
    answer = answer_of(name)
    assert answer.succeeded and json.loads(answer.content) == content and finish_reason(answer) == "stop"


@pytest.mark.parametrize("name, words", [
    ("tools_invalid", "function call in 1 attempt(s); the last was refused with: Output does not match required schema"),
    ("json_invalid", "JSON answer in 3 attempt(s); the last was refused with: Output does not match required schema"),
])
def test_output_the_cli_refused_is_a_clear_error(name, words):
    answer, error = settled(name, plan=chat_plan(scenario_request(name)))
    assert not answer.succeeded
    assert (error.status, error.code) == (502, "invalid_model_output")
    assert words in error.message


# --- through the app ------------------------------------------------------------------------------

def test_tool_calls_answer_has_the_openai_shape(client, replay, check):
    replay("tools_call")
    body = check("createChatCompletion", 200, client.post("/v1/chat/completions", json=scenario_request(
        "tools_call")).get_json(), "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_streamed_tool_calls_come_as_delta_pieces(client, replay, check):
    replay("tools_parallel")
    response = client.post("/v1/chat/completions", json=scenario_request("tools_parallel") | {"stream": True})
    frames = sse_events(response.get_data())
    assert frames[-1] == "[DONE]"
    for frame in frames[:-1]:
        check("createChatCompletion", 200, frame, "CreateChatCompletionStreamResponse")
    pieces = [d["tool_calls"][0] for f in frames[:-1] for d in [f["choices"][0]["delta"]] if "tool_calls" in d]
    assert [sorted(p) for p in pieces] == [["function", "id", "index", "type"], ["function", "index"]] * 2
    assert [p["function"].get("name") for p in pieces] == ["get_weather", None, "get_time", None]
    assert [p["index"] for p in pieces] == [0, 0, 1, 1]
    assert frames[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_streamed_json_answer_comes_whole_before_the_finish(client, replay):
    replay("json_schema")
    frames = sse_events(client.post("/v1/chat/completions", json=scenario_request("json_schema") | {
        "stream": True}).get_data())
    text = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames[:-1])
    assert json.loads(text) == {"city": "Paris", "population": 1}


def test_invalid_output_is_a_502(client, replay, check):
    replay("json_invalid")
    response = client.post("/v1/chat/completions", json=scenario_request("json_invalid"))
    body = check("createChatCompletion", 502, response.get_json(), "ErrorResponse")
    assert body["error"]["code"] == "invalid_model_output"


def test_text_around_a_json_answer_is_left_out(client, replay):
    replay("json_text_first")
    body = client.post("/v1/chat/completions", json=scenario_request("json_text_first")).get_json()
    assert json.loads(body["choices"][0]["message"]["content"]) == {"city": "Paris", "population": 1}
    replay("json_text_first")
    frames = sse_events(client.post("/v1/chat/completions", json=scenario_request("json_text_first") | {
        "stream": True}).get_data())
    text = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames[:-1])
    assert json.loads(text) == {"city": "Paris", "population": 1}
