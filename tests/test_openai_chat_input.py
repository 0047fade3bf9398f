"""OpenAI chat requests become CLI input: system prompt, transcript, prompt, model and limits."""
import pytest

from proxy.api.openai_chat_input import to_cli_input
from proxy.command import transcript
from proxy.errors import InvalidRequest


def ask(settings, messages, **fields):
    return to_cli_input({"model": "haiku", "messages": messages, **fields}, settings)[0]


def test_system_and_developer_messages_become_the_system_prompt(settings):
    got = ask(settings, [{"role": "system", "content": "Be terse."},
                         {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
                         {"role": "user", "content": "Hi"}])
    assert got.system_prompt == "Be terse.\n\nUse metric units."
    assert got.prompt == "Hi"
    assert got.history == ()


def test_no_system_message_means_no_system_prompt(settings):
    assert ask(settings, [{"role": "user", "content": "Hi"}]).system_prompt is None


def test_history_reaches_the_transcript_in_order_with_roles(settings):
    got = ask(settings, [{"role": "user", "content": "Hi, I'm Bob."},
                         {"role": "assistant", "content": "Hello Bob!"},
                         {"role": "user", "content": [{"type": "text", "text": "I like"}, {"type": "text", "text": "tea."}]},
                         {"role": "assistant", "content": "Noted."},
                         {"role": "user", "content": "What is my name?"}])
    assert got.prompt == "What is my name?"
    records = transcript(got.history)
    assert [(r["type"], r["message"]["content"]) for r in records] == [
        ("user", [{"type": "text", "text": "Hi, I'm Bob."}]),
        ("assistant", [{"type": "text", "text": "Hello Bob!"}]),
        ("user", [{"type": "text", "text": "I like"}, {"type": "text", "text": "tea."}]),
        ("assistant", [{"type": "text", "text": "Noted."}]),
    ]
    assert [r["parentUuid"] for r in records] == [None] + [r["uuid"] for r in records[:-1]]
    assert all(r["message"]["role"] == r["type"] for r in records)
    stamps = [r["timestamp"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4 and all(s.endswith("Z") for s in stamps)


def test_neighbouring_turns_of_one_role_are_merged(settings):
    got = ask(settings, [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                         {"role": "assistant", "content": "c"}, {"role": "assistant", "content": None},
                         {"role": "assistant", "content": "d"}, {"role": "user", "content": "e"},
                         {"role": "user", "content": "f"}])
    assert [(role, [b["text"] for b in blocks]) for role, blocks in got.history] == [
        ("user", ["a", "b"]), ("assistant", ["c", "d"])]
    assert got.prompt == "e\n\nf"


def test_tool_calls_and_results_reach_the_model_as_text(settings):
    got = ask(settings, [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C sunny"}])
    assert list(got.history[1][1]) == [
        {"type": "text", "text": '[Called tool get_weather (id call_1) with arguments {"city":"Paris"}]'}]
    assert got.prompt == "[Result of tool call call_1]\n18C sunny"


@pytest.mark.parametrize("messages, param", [
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "messages"),
    ([{"role": "system", "content": "Be terse."}], "messages"),
    ([{"role": "user", "content": "  \n "}], "messages[0].content"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}],
     "messages[0].content[0]"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:text/html;base64,AA=="}}]}],
     "messages[0].content[0]"),
    ([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]}],
     "messages[0].content[0]"),
])
def test_conversations_without_a_final_user_text_are_refused(settings, messages, param):
    with pytest.raises(InvalidRequest) as caught:
        ask(settings, messages)
    assert caught.value.param == param and caught.value.status == 400


@pytest.mark.parametrize("fields, param", [
    ({"n": 2}, "n"),
    ({"logprobs": True}, "logprobs"),
    ({"modalities": ["text", "audio"]}, "modalities"),
    ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools[0]"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {
        "type": "function", "function": {"name": "g"}}}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}], "response_format": {"type": "json_object"}},
     "response_format"),
])
def test_fields_the_cli_cannot_honour_are_refused(settings, fields, param):
    with pytest.raises(InvalidRequest) as caught:
        ask(settings, [{"role": "user", "content": "Hi"}], **fields)
    assert caught.value.param == param


def test_a_schema_of_any_size_reaches_the_cli(settings):
    schema = {"type": "object", "description": "x" * 200_000}
    got = ask(settings, [{"role": "user", "content": "Hi"}], response_format={
        "type": "json_schema", "json_schema": {"name": "big", "schema": schema}})
    assert got.json_schema == schema


def test_fields_it_can_ignore_are_accepted(settings):
    got = ask(settings, [{"role": "user", "content": "Hi"}], n=1, temperature=0.2, top_p=0.5, seed=3,
              presence_penalty=0.1, logprobs=False, response_format={"type": "text"}, user="u1")
    assert got.prompt == "Hi"


@pytest.mark.parametrize("requested, expected", [
    (None, None), ("none", "low"), ("minimal", "low"), ("low", "low"), ("medium", "medium"),
    ("high", "high"), ("xhigh", "xhigh")])
def test_reasoning_effort_maps_to_the_cli_effort(settings, requested, expected):
    fields = {"reasoning_effort": requested} if requested else {}
    assert ask(settings, [{"role": "user", "content": "Hi"}], **fields).effort == expected


def test_default_effort_comes_from_settings(settings):
    assert ask(settings.replace(effort="high"), [{"role": "user", "content": "Hi"}]).effort == "high"


def test_max_completion_tokens_wins_over_max_tokens(settings):
    assert ask(settings, [{"role": "user", "content": "Hi"}], max_tokens=50).max_output_tokens == 50
    assert ask(settings, [{"role": "user", "content": "Hi"}], max_tokens=50,
               max_completion_tokens=20).max_output_tokens == 20


def test_model_passes_through(settings):
    assert to_cli_input({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]},
                        settings)[0].model == "claude-sonnet-4-5"


def test_flatten_mode_writes_the_history_into_the_prompt(settings):
    got = ask(settings.replace(history="flatten"), [
        {"role": "user", "content": "Hi, I'm Bob."}, {"role": "assistant", "content": "Hello Bob!"},
        {"role": "user", "content": "Name?"}])
    assert got.history == ()
    assert got.prompt == ("<conversation_so_far>\n[user]: Hi, I'm Bob.\n\n[assistant]: Hello Bob!\n"
                          "</conversation_so_far>\n\nName?")


def test_without_a_model_the_default_answers(settings):
    cli_input, _ = to_cli_input({"messages": [{"role": "user", "content": "x"}]}, settings.replace(model="opus"))
    assert cli_input.model == "opus"
