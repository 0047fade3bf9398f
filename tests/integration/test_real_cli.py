"""The real CLI behind gunicorn, asked through the openai SDK; the stub shows what the model got."""
import json
import pathlib
import time

import openai
import pytest
import requests

from harness.stub_upstream import Reply

pytestmark = pytest.mark.integration


def texts(message):
    """The text of an Anthropic message's content, block by block."""
    content = message["content"]
    return [content] if isinstance(content, str) else [b.get("text", "") for b in content if b["type"] == "text"]


def conversation(body):
    """(role, text) of each user and assistant turn, leaving out the CLI's own system messages."""
    return [(m["role"], "\n".join(texts(m))) for m in body["messages"] if m["role"] in ("user", "assistant")]


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="any-key", max_retries=0)


def test_plain_request_gets_a_parsed_answer(client, upstream):
    answer = client.chat.completions.create(
        model="haiku", reasoning_effort="high",
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi"}])
    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "claude-haiku-5-5"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    [post] = upstream.posts
    body = post["body"]
    assert body["tools"] == []
    assert body["model"] == "claude-haiku-5-5"
    assert body["system"][-1]["text"] == "You are terse."
    assert body["output_config"]["effort"] == "high" if "output_config" in body else any(
        (m.get("output_config") or {}).get("effort") == "high" for m in body["messages"])
    assert conversation(body) == [("user", "Say hi")]


def test_multi_turn_reaches_the_model_as_turns_in_one_call(client, upstream):
    client.chat.completions.create(model="sonnet", messages=[
        {"role": "developer", "content": "Remember names."},
        {"role": "user", "content": "Hi, I'm Bob."},
        {"role": "assistant", "content": "Hello Bob!"},
        {"role": "user", "content": [{"type": "text", "text": "I like tea."}]},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "What is my name?"}])
    [post] = upstream.posts
    assert post["body"]["model"] == "claude-sonnet-5-5"
    assert post["body"]["system"][-1]["text"] == "Remember names."
    assert conversation(post["body"]) == [("user", "Hi, I'm Bob."), ("assistant", "Hello Bob!"),
                                          ("user", "I like tea."), ("assistant", "Noted."),
                                          ("user", "What is my name?")]


def test_a_500_kb_prompt_arrives_whole(client, upstream):
    prompt = ("0123456789abcdef" * 32_000) + " end"
    client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": prompt}])
    [post] = upstream.posts
    assert conversation(post["body"])[-1] == ("user", prompt)


@pytest.mark.parametrize("prompt", ['--settings={"hooks":{"SessionStart":[{"hooks":[{"type":"command",'
                                    '"command":"touch /tmp/claude-proxy-pwned"}]}]}}', "--version", "-p"])
def test_option_like_text_is_only_text(client, upstream, prompt):
    pathlib.Path("/tmp/claude-proxy-pwned").unlink(missing_ok=True)
    answer = client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": prompt}])
    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    [post] = upstream.posts
    assert conversation(post["body"]) == [("user", prompt)]
    assert not pathlib.Path("/tmp/claude-proxy-pwned").exists()


def test_a_tool_call_from_the_model_runs_nothing(client, upstream, stub, server):
    marker = pathlib.Path("/tmp/claude-proxy-pwned")
    marker.unlink(missing_ok=True)
    stub.expect(Reply(kind="tool_use", text="Let me check.", tool_calls=[("Bash", {"command": f"touch {marker}"})]))
    answer = client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "Go"}])
    assert answer.choices[0].message.content == "Let me check."
    assert answer.choices[0].finish_reason == "stop"
    assert server.runs_ended()
    assert not marker.exists()
    [post] = upstream.posts  # the proxy ended the run before the CLI could call the model again
    assert post["body"]["tools"] == []


@pytest.mark.parametrize("marker, error, status", [
    ("rate_limit", openai.RateLimitError, 429), ("overloaded", openai.InternalServerError, 503),
    ("server_error", openai.InternalServerError, 502), ("prompt_too_long", openai.BadRequestError, 400)])
def test_upstream_errors_are_reported_in_seconds(client, upstream, marker, error, status):
    started = time.monotonic()
    with pytest.raises(error) as caught:
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": f"x [stub:{marker}]"}])
    assert caught.value.status_code == status
    assert time.monotonic() - started < 10
    assert "127.0.0.1" not in caught.value.message


def test_stream_delivers_deltas_as_the_model_makes_them(client):
    arrivals, text = [], ""
    stream = client.chat.completions.create(model="haiku", stream=True,
                                            messages=[{"role": "user", "content": "Count [stub:slow]"}])
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            text += chunk.choices[0].delta.content
    assert text == "one two three four five six"
    assert len(arrivals) == 6 and arrivals[-1] - arrivals[0] >= 1.2


def test_health_reports_the_real_cli_version(server, claude):
    body = requests.get(server.url + "/health", timeout=10).json()
    assert body["status"] == "ok" and body["cli_version"] == server_version(claude)


def server_version(claude):
    import subprocess
    return subprocess.run([claude, "--version"], capture_output=True, text=True).stdout.split()[0]


def test_the_users_hooks_mcp_servers_and_claude_md_stay_out(client, upstream, home, server):
    from tests.integration.conftest import SENTINEL

    client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "hi"}])
    [post] = upstream.posts
    assert post["body"]["tools"] == [] and SENTINEL not in json.dumps(post["body"])
    assert server.runs_ended()
    assert not (home / "settings-hook-ran").exists() and not (home / "mcp-server-ran").exists()
