"""A Messages API request becomes the Ask and the CLI input of one run (pure translation)."""
import json

import pytest

from proxy.api.anthropic_messages_input import to_ask, to_cli_input
from proxy.command import build_command
from proxy.config import Settings
from proxy.errors import InvalidRequest
from harness.record_scenarios import PNG as PNG_BASE64

SETTINGS = Settings(claude_path="/opt/fake/claude")
WEATHER = {"name": "get_weather", "description": "The current weather in a city.",
           "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                            "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}}


def request(*messages, **fields):
    return {"model": "haiku", "max_tokens": 1024, "messages": list(messages) or [{"role": "user", "content": "Hi"}],
            **fields}


def cli_input(body):
    return to_cli_input(body, SETTINGS)[0]


def test_a_string_and_text_blocks_reach_the_cli_as_the_prompt_and_the_system_prompt():
    body = request({"role": "user", "content": [{"type": "text", "text": "Say hi", "cache_control": {"type": "x"}}]},
                   system=[{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Be kind."}])
    got = cli_input(body)
    assert (got.prompt, got.system_prompt, got.model, got.max_output_tokens) == (
        "Say hi", "You are terse.\n\nBe kind.", "haiku", 1024)


def test_claude_codes_billing_header_stays_out_of_the_system_prompt():
    billing = "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=cli;"
    body = request(system=[{"type": "text", "text": billing}, {"type": "text", "text": "You are a Claude agent."}])
    assert cli_input(body).system_prompt == "You are a Claude agent."


def test_system_messages_inside_messages_join_the_system_prompt_in_order_with_their_effort():
    body = request({"role": "user", "content": "Run echo hi"},
                   {"role": "system", "content": [{"type": "text", "text": "# Environment"}],
                    "output_config": {"effort": "high"}},
                   system="You are an agent.")
    got = cli_input(body)
    assert (got.prompt, got.system_prompt, got.effort) == ("Run echo hi", "You are an agent.\n\n# Environment", "high")


def test_a_system_message_may_come_last_after_tool_results():
    body = request({"role": "user", "content": "Read it"},
                   {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                      "input": {"city": "Paris"}}]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]},
                   {"role": "system", "content": "[Truncated: PARTIAL view]"}, tools=[WEATHER])
    got = cli_input(body)
    assert got.system_prompt.startswith("[Truncated: PARTIAL view]")
    assert got.message[0]["type"] == "tool_result"  # the last turn the model sees


def test_top_level_effort_wins_over_a_system_messages():
    system = {"role": "system", "content": "env", "output_config": {"effort": "low"}}
    body = request({"role": "user", "content": "Hi"}, system, output_config={"effort": "max"})
    assert cli_input(body).effort == "max"


def test_stop_sequences_and_limits_reach_the_ask():
    ask = to_ask(request(stop_sequences=["END", "STOP"], max_tokens=77), SETTINGS)
    assert (ask.stop, ask.max_output_tokens, ask.plan) == (("END", "STOP"), 77, None)


def test_an_earlier_tool_use_and_its_result_become_real_tool_turns():
    body = request({"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": [
                       {"type": "text", "text": "Let me check."},
                       {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"},
                        "caller": None, "toolset_name": None}]},
                   {"role": "user", "content": [
                       {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}],
                        "is_error": True, "cache_control": {"type": "ephemeral"}},
                       {"type": "text", "text": "Summarise."}]},
                   tools=[WEATHER])
    got = cli_input(body)
    turns = [(role, [b["type"] for b in blocks]) for role, blocks in got.history]
    assert turns == [("user", ["text"]), ("assistant", ["text", "tool_use"])]
    assert [b["type"] for b in got.message] == ["tool_result", "text"]
    call = got.history[1][1][1]
    assert call["name"] == "StructuredOutput" and call["input"] == {
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    result = got.message[0]
    assert json.loads(result["content"]) == [{"name": "get_weather", "content": "18C", "is_error": True}]
    assert got.prompt == "Summarise."


def test_a_tool_reference_in_a_result_becomes_a_line_of_text():
    body = request({"role": "user", "content": "Find the tool"},
                   {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "ToolSearch",
                                                      "input": {"query": "select:get_weather"}}]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                       {"type": "tool_reference", "tool_name": "get_weather"}]}]},
                   tools=[WEATHER, {"name": "ToolSearch", "input_schema": {"type": "object"}}])
    result = cli_input(body).message[0]
    assert json.loads(result["content"]) == [{"name": "ToolSearch", "content": "[The tool get_weather can be called.]"}]


def test_earlier_thinking_is_left_out_of_the_history():
    body = request({"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": [{"type": "thinking", "thinking": "Hmm", "signature": "c2ln"},
                                                     {"type": "redacted_thinking", "data": "xx"},
                                                     {"type": "text", "text": "Hello"}]},
                   {"role": "user", "content": "Again"})
    assert [b["type"] for _, blocks in cli_input(body).history for b in blocks] == ["text", "text"]


def test_an_image_goes_to_the_cli_as_a_block():
    body = request({"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64[:20] + "\n" +
                                     PNG_BASE64[20:]}},
        {"type": "text", "text": "What is this?"}]})
    got = cli_input(body)
    assert [b["type"] for b in got.message] == ["image", "text"]
    assert got.message[0]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}


@pytest.mark.parametrize("choice, expected", [
    (None, ("auto", 1, None)), ({"type": "auto"}, ("auto", 1, None)), ({"type": "any"}, ("required", 3, None)),
    ({"type": "tool", "name": "get_time"}, ("get_time", 3, 1)),
    ({"type": "auto", "disable_parallel_tool_use": True}, ("auto", 1, 1)),
])
def test_tool_choice_becomes_the_plan(choice, expected):
    fields = {"tools": [WEATHER, TIME]} | ({"tool_choice": choice} if choice else {})
    plan = to_ask(request(**fields), SETTINGS).plan
    rule, turns, most = expected
    calls = plan.schema["properties"]["tool_calls"]
    names = [b["properties"]["name"]["const"] for b in calls["items"]["anyOf"]]
    assert plan.kind == "tools" and plan.max_turns == turns and calls.get("maxItems") == most
    assert names == ([rule] if rule == "get_time" else ["get_weather", "get_time"])
    assert plan.text_allowed == (rule == "auto")


def test_tool_choice_none_only_describes_the_tools():
    plan = to_ask(request(tools=[WEATHER], tool_choice={"type": "none"}), SETTINGS).plan
    assert plan.schema is None and "## get_weather" in plan.system


def test_a_tools_schema_reaches_the_cli_without_its_dollar_schema():
    schema = cli_input(request(tools=[WEATHER])).json_schema
    arguments = schema["properties"]["tool_calls"]["items"]["anyOf"][0]["properties"]["arguments"]
    assert arguments == {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_an_output_format_asks_for_a_json_answer():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    plan = to_ask(request(output_config={"format": {"type": "json_schema", "schema": schema}}), SETTINGS).plan
    assert (plan.kind, plan.schema) == ("json", schema)


@pytest.mark.parametrize("thinking, flags, env", [
    (None, [], None),
    ({"type": "adaptive"}, [], None),
    ({"type": "adaptive", "display": "summarized"}, ["--thinking-display", "summarized"], None),
    ({"type": "enabled", "budget_tokens": 2048}, ["--max-thinking-tokens", "2048"], None),
    ({"type": "enabled", "budget_tokens": 2048, "display": "omitted"}, ["--max-thinking-tokens", "2048"], None),
    ({"type": "disabled"}, [], "1"),
])
def test_thinking_reaches_the_cli_as_far_as_it_can_be_told(thinking, flags, env):
    body = request(**({"thinking": thinking} if thinking else {}), max_tokens=4096)
    argv, environment, _ = build_command(SETTINGS, cli_input(body), "/tmp/run")
    told = [a for a in argv if a.startswith("--") and "thinking" in a]
    assert [a for i, a in enumerate(argv) if a in told or (i and argv[i - 1] in told)] == flags
    assert environment.get("CLAUDE_CODE_DISABLE_THINKING") == env


@pytest.mark.parametrize("fields, messages, param, words", [
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, None, "tools[0]", "Server tools"),
    ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "nope"}}, None, "tool_choice.name", "not in tools"),
    ({"tools": [WEATHER], "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, None,
     "output_config.format", "cannot be combined"),
    ({}, [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}]}],
     "messages[0].content[0].source", "CLAUDE_IMAGE_FETCH"),
    ({}, [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
        {"type": "image", "source": {}}]}]}], "messages[0].content[0].content[0]", "text only"),
    ({}, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}], "messages", "end with a user"),
    ({"mcp_servers": [{"type": "url", "url": "https://mcp.test", "name": "x"}]}, None, "mcp_servers", "MCP"),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 1024}, None, "thinking.budget_tokens",
     "greater than"),
])
def test_what_the_cli_cannot_carry_is_a_400_naming_the_field(fields, messages, param, words):
    with pytest.raises(InvalidRequest) as caught:
        to_cli_input(request(*(messages or ()), **fields), SETTINGS)
    assert caught.value.param == param and words in caught.value.message
