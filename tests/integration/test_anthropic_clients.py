"""The Messages API with real clients: the `anthropic` SDK and Claude Code itself, through the real CLI.

The proxy runs behind gunicorn with a key, which the SDK sends as a Bearer token and Claude Code
as x-api-key; the stub upstream shows what the model was sent.
"""
import json
import os
import subprocess

import anthropic
import pytest

from contract_tests.support import Server
from harness.record_scenarios import PNG
from harness.stub_model import STRUCTURED, Reply

pytestmark = pytest.mark.integration

KEY = "proxy-key"
WEATHER = {"name": "get_weather", "description": "The current weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
GREETING = "Hello! How can I help you today?"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, claude, stub, home):
    s = Server(tmp_path_factory.mktemp("anthropic"), claude=claude, HOME=str(home), ANTHROPIC_BASE_URL=stub.url,
               ANTHROPIC_API_KEY="sk-test", CLAUDE_TIMEOUT="60", PROXY_API_KEY=KEY)
    yield s
    s.stop()


@pytest.fixture
def client(keyed_server):
    return anthropic.Anthropic(base_url=keyed_server.url, api_key=KEY, max_retries=0)


def blocks(post):
    """(role, block type) of each turn the model was sent, leaving out the CLI's own system messages."""
    return [(m["role"], b["type"]) for m in post["body"]["messages"] if m["role"] != "system"
            for b in (m["content"] if isinstance(m["content"], list) else [{"type": "text"}])]


def test_create_gets_a_message(client, upstream):
    message = client.messages.create(model="haiku", max_tokens=512, system="You are terse.",
                                      messages=[{"role": "user", "content": "Say hi"}])
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == GREETING
    assert (message.stop_reason, message.model) == ("end_turn", "claude-haiku-5-5")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message._request_id.startswith("req_")
    [post] = upstream.posts
    assert post["body"]["system"][-1]["text"] == "You are terse." and post["body"]["max_tokens"] == 512


def test_the_stream_helper_assembles_the_final_message(client):
    with client.messages.stream(model="haiku", max_tokens=512,
                                messages=[{"role": "user", "content": "Count [stub:slow]"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == ["one ", "two ", "three ", "four ", "five ", "six"]
    assert final.content[0].text == "one two three four five six" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_a_tool_use_round_trip_reaches_the_model_as_real_tool_turns(client, stub, upstream):
    messages = [{"role": "user", "content": "Weather in Paris? [stub:tools_call]"}]
    first = client.messages.create(model="haiku", max_tokens=512, tools=[WEATHER], messages=messages)
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Paris"} and call.id.startswith("toolu_")
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                 {"role": "user", "content": [
                     {"type": "tool_result", "tool_use_id": call.id, "content": "18C, sunny"}]}]
    stub.expect(Reply(text="It is 18C and sunny in Paris."))  # the model's next answer
    second = client.messages.create(model="haiku", max_tokens=512, tools=[WEATHER], messages=messages)
    assert second.content[0].text == "It is 18C and sunny in Paris." and second.stop_reason == "end_turn"
    post = upstream.posts[-1]
    assert blocks(post)[:4] == [("user", "text"), ("assistant", "text"), ("assistant", "tool_use"),
                                ("user", "tool_result")]
    result = next(b for m in post["body"]["messages"] if isinstance(m["content"], list) for b in m["content"]
                  if b["type"] == "tool_result")
    assert json.loads(result["content"]) == [{"name": "get_weather", "content": "18C, sunny"}]


def test_an_image_reaches_the_model(client, upstream):
    message = client.messages.create(model="haiku", max_tokens=512, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "What is this?"}]}])
    assert message.content[0].text == GREETING
    [post] = upstream.posts
    [image] = [b for m in post["body"]["messages"] if m["role"] == "user" and isinstance(m["content"], list)
               for b in m["content"] if b["type"] == "image"]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}


@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated")  # one that takes a budget
def test_thinking_reaches_the_model_and_comes_back_as_a_thinking_block(client, upstream):
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=4096, messages=[
        {"role": "user", "content": "2 + 2? [stub:thinking]"}], thinking={"type": "enabled", "budget_tokens": 1024})
    assert [(b.type, getattr(b, "thinking", None) or b.text) for b in message.content] == [
        ("thinking", "Let me think about that."), ("text", "The answer is 4.")]
    [post] = upstream.posts
    assert post["body"]["thinking"]["type"] == "enabled" and post["body"]["thinking"]["budget_tokens"] == 1024


def test_disabled_thinking_leaves_thinking_out_of_the_models_request(client, upstream):
    message = client.messages.create(model="haiku", max_tokens=512, thinking={"type": "disabled"},
                                      messages=[{"role": "user", "content": "Say hi"}])
    assert [b.type for b in message.content] == ["text"]
    [post] = upstream.posts
    assert "thinking" not in post["body"]


def test_models_list_in_anthropics_shape(client):
    page = client.models.list()
    assert [m.id for m in page.data] == ["haiku", "sonnet", "opus", "fable"] and page.has_more is False


def test_count_tokens_is_a_not_found_error_that_says_why(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.count_tokens(model="haiku", messages=[{"role": "user", "content": "Say hi"}])
    assert "no exact count" in caught.value.body["error"]["message"]


def test_a_server_tool_is_a_clear_400(client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="haiku", max_tokens=512, messages=[{"role": "user", "content": "Search"}],
                               tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "Server tools" in caught.value.body["error"]["message"]


# --- Claude Code as the client ---------------------------------------------------------------------

def claude_code(claude, server, tmp_path, prompt, *flags):
    """Run `claude -p` as a user would, pointed at the proxy (its own HOME); return its JSON result."""
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir(), cwd.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "ANTHROPIC_BASE_URL": server.url,
           "ANTHROPIC_API_KEY": KEY, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_MAX_RETRIES": "0"}
    done = subprocess.run([claude, "-p", "--output-format", "json", "--max-turns", "3", *flags, "--", prompt],
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_claude_code_gets_an_answer(claude, keyed_server, upstream, tmp_path):
    result = claude_code(claude, keyed_server, tmp_path, "Say hi [stub:success]")
    assert result["result"] == GREETING and result["is_error"] is False
    [post] = upstream.posts
    tools = next(t for t in post["body"]["tools"] if t["name"] == STRUCTURED)["input_schema"]
    names = [b["properties"]["name"]["const"] for b in tools["properties"]["tool_calls"]["items"]["anyOf"]]
    assert "Bash" in names and "Read" in names  # Claude Code's own tools, offered through the proxy
    system = post["body"]["system"][-1]["text"]  # Claude Code's system blocks and messages, whole
    assert "You are a Claude agent" in system and "# Environment" in system and "## Bash" in system


def test_claude_code_runs_a_tool_the_proxy_returned_and_sends_back_its_result(claude, keyed_server, stub, upstream,
                                                                                tmp_path):
    command = {"name": "Bash", "arguments": {"command": "echo tool-output-42", "description": "Print a marker"}}
    stub.expect(Reply(kind="tool_use", text="", tool_calls=[(STRUCTURED, {"tool_calls": [command]})]))
    result = claude_code(claude, keyed_server, tmp_path, "Print the marker [stub:success]", "--allowedTools", "Bash")
    assert result["result"] == GREETING and result["num_turns"] == 2
    _, second = upstream.posts
    # Claude Code's tool result is the last turn the model sees, with nothing added after it.
    assert blocks(second)[-2:] == [("assistant", "tool_use"), ("user", "tool_result")]
    assert "No response requested." not in json.dumps(second["body"])
    result_block = next(b for m in second["body"]["messages"] if isinstance(m["content"], list)
                        for b in m["content"] if b["type"] == "tool_result")
    [answered] = json.loads(result_block["content"])
    assert answered["name"] == "Bash" and "tool-output-42" in answered["content"]
