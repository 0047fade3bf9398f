"""OpenAI Responses requests become CLI input: instructions, items as turns, tools, text.format."""
import json

import pytest

from proxy import conversation
from proxy.api.openai_responses_input import items, to_ask
from proxy.errors import InvalidRequest
from tests.test_openai_responses import CITY, CODEX, TIME, WEATHER

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def ask(settings, earlier=(), **body):
    body = {"model": "haiku"} | body
    context = list(earlier) + items(body)
    return to_ask(body, context, len(earlier), settings)


def cli_input(settings, earlier=(), **body):
    return conversation.to_cli_input(ask(settings, earlier, **body), settings)


def test_a_string_input_is_the_prompt(settings):
    got = cli_input(settings, input="Say hi")
    assert got.prompt == "Say hi" and got.history == () and got.system_prompt is None


def test_instructions_then_system_and_developer_messages_make_the_system_prompt(settings):
    got = cli_input(settings, instructions="Be terse.", input=[
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Use metric units."}]},
        {"role": "system", "content": "No emoji."}, {"role": "user", "content": "Hi"}])
    assert got.system_prompt == "Be terse.\n\nUse metric units.\n\nNo emoji."
    assert got.prompt == "Hi"


def test_messages_with_and_without_type_become_turns(settings):
    got = cli_input(settings, input=[
        {"role": "user", "content": "Hi, I'm Bob."},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello Bob!",
                                                               "annotations": []}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "My name?"}]}])
    assert [(role, list(blocks)) for role, blocks in got.history] == [
        ("user", [{"type": "text", "text": "Hi, I'm Bob."}]), ("assistant", [{"type": "text", "text": "Hello Bob!"}])]
    assert got.prompt == "My name?"


def test_a_function_round_trip_is_real_tool_turns(settings):
    got = cli_input(settings, tools=[WEATHER, TIME], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city":"Paris"}', "status": "completed"},
        {"type": "function_call_output", "call_id": "call_1", "output": "18C, sunny"}])
    assert [(role, [b["type"] for b in blocks]) for role, blocks in got.history] == [
        ("user", ["text"]), ("assistant", ["tool_use"])]
    call = got.history[1][1][0]
    assert call["input"] == {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    [result] = got.message
    assert result["type"] == "tool_result" and result["tool_use_id"] == call["id"]
    assert json.loads(result["content"]) == [{"name": "get_weather", "content": "18C, sunny"}]


def test_output_parts_of_a_function_result_are_its_text(settings):
    got = ask(settings, tools=[WEATHER], input=[
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "sunny"}]}])
    assert got.messages[-1] == ("user", [{"type": "tool_result", "tool_use_id": "c1", "content": "sunny"}])


def test_a_custom_tool_is_a_function_of_its_text_with_its_grammar(settings):
    got = ask(settings, **CODEX)
    schema = got.plan.schema["properties"]["tool_calls"]["items"]["anyOf"]
    patch = next(b for b in schema if b["properties"]["name"]["const"] == "apply_patch")
    text = patch["properties"]["arguments"]["properties"]["input"]
    assert text["type"] == "string" and "start: begin_patch hunk+ end_patch" in text["description"]
    assert [b["properties"]["name"]["const"] for b in schema] == ["exec_command", "apply_patch"]


def test_a_custom_tool_call_is_a_call_with_its_text(settings):
    got = ask(settings, tools=CODEX["tools"], input=[
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done"}])
    assert got.messages[0] == ("assistant", [{"type": "tool_use", "id": "c1", "name": "apply_patch",
                                              "input": {"input": "*** Begin Patch"}}])


def test_codex_reasoning_items_never_reach_the_model(settings):
    got = cli_input(settings, **CODEX)
    assert got.history == () and got.prompt.endswith("</environment_context>\n\nSay hi [stub:tools_text]")
    assert got.system_prompt.startswith("You are Codex, a coding agent.")


def test_an_image_from_a_data_url_is_an_image_block(settings):
    got = cli_input(settings, input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]}])
    assert [b["type"] for b in got.message] == ["text", "image"]


def test_a_remote_image_is_refused_unless_fetching_is_on(settings):
    with pytest.raises(InvalidRequest) as caught:
        ask(settings, input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.com/a.png"}]}])
    assert caught.value.param == "input[0].content[0]"


def test_effort_max_output_tokens_and_model_pass_through(settings):
    got = cli_input(settings, input="Hi", model="sonnet", reasoning={"effort": "minimal"}, max_output_tokens=50)
    assert (got.model, got.effort, got.max_output_tokens) == ("sonnet", "low", 50)


@pytest.mark.parametrize("text_format, schema", [
    ({"type": "json_schema", "name": "city", "schema": CITY}, CITY),
    ({"type": "json_object"}, {"type": "object"}),
])
def test_text_format_asks_for_json(settings, text_format, schema):
    got = ask(settings, input="Describe Paris.", text={"format": text_format})
    assert got.plan.kind == "json" and got.plan.schema == schema


def test_tool_choice_names_a_function_the_model_must_call(settings):
    got = ask(settings, input="Time?", tools=[WEATHER, TIME], tool_choice={"type": "function", "name": "get_time"})
    assert [b["properties"]["name"]["const"] for b in
            got.plan.schema["properties"]["tool_calls"]["items"]["anyOf"]] == ["get_time"]


def test_allowed_tools_limit_what_may_be_called(settings):
    got = ask(settings, input="Time?", tools=[WEATHER, TIME], tool_choice={
        "type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_weather"}]})
    branches = got.plan.schema["properties"]["tool_calls"]["items"]["anyOf"]
    assert [b["properties"]["name"]["const"] for b in branches] == ["get_weather"]


def test_parallel_tool_calls_false_allows_one_call(settings):
    got = ask(settings, input="Both", tools=[WEATHER, TIME], parallel_tool_calls=False)
    assert got.plan.schema["properties"]["tool_calls"]["maxItems"] == 1


def test_earlier_items_come_first_and_are_named_by_previous_response_id(settings):
    earlier = items({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]})
    with pytest.raises(InvalidRequest) as caught:
        ask(settings, earlier, input="Go on")
    assert caught.value.param == "previous_response_id"


def test_items_get_ids_and_keep_the_clients(settings):
    got = items({"input": [{"role": "user", "content": "Hi"}, {"type": "message", "id": "msg_mine", "role": "assistant",
                                                               "content": "Hello"}]})
    assert got[0]["id"].startswith("msg_") and got[1]["id"] == "msg_mine"
    assert got[1]["content"] == [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}]


def test_the_last_user_message_must_have_text(settings):
    with pytest.raises(InvalidRequest) as caught:
        ask(settings, input=[{"role": "user", "content": [{"type": "input_text", "text": "  "}]}])
    assert caught.value.param == "input[0].content"
