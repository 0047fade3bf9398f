"""Real Responses API clients through gunicorn and the real CLI: the openai SDK, the Agents SDK, Codex."""
import asyncio
import json
import os
import pathlib
import subprocess

import openai
import pytest

from harness.install_cli import REPO
from harness.stub_model import DEFAULT_TEXT, Reply, structured, structured_schema
from tests.integration.test_tools_real_cli import City

pytestmark = pytest.mark.integration
CODEX_NPM = "@openai/codex@0.171.0"
WEATHER = {"type": "function", "name": "get_weather", "description": "The current weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}, "strict": True}


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="any-key", max_retries=0)


def user_texts(body):
    """The text of every user and assistant turn the model got, in order."""
    turns = []
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        turns += [(message["role"], b["text"]) for b in blocks if b["type"] == "text" and message["role"] != "system"]
    return turns


# --- the openai SDK ------------------------------------------------------------------------------

def test_create_gets_output_text(client, upstream):
    response = client.responses.create(model="haiku", instructions="You are terse.", input="Say hi")
    assert response.output_text == DEFAULT_TEXT and response.status == "completed"
    assert response.usage.input_tokens > 0 and response.model == "claude-haiku-5-5"
    [post] = upstream.posts
    assert post["body"]["system"][-1]["text"] == "You are terse."


def test_a_stream_is_assembled_by_the_sdk_helper(client):
    deltas = []
    with client.responses.stream(model="haiku", input="Count [stub:slow]") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "one two three four five six"


def test_raw_stream_events_come_in_order(client):
    kinds = [event.type for event in client.responses.create(model="haiku", input="Say hi", stream=True)]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]


def test_a_function_call_round_trip(client, stub, upstream):
    first = client.responses.create(model="haiku", tools=[WEATHER], input="Weather in Paris? [stub:tools_call]")
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    stub.expect(Reply(text="It is 18C and sunny in Paris."))
    second = client.responses.create(model="haiku", tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris? [stub:tools_call]"}, *[item.model_dump() for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "18C, sunny"}])
    assert second.output_text == "It is 18C and sunny in Paris."
    blocks = [b["type"] for m in upstream.posts[-1]["body"]["messages"] if isinstance(m["content"], list)
              for b in m["content"]]
    assert "tool_use" in blocks and "tool_result" in blocks


def test_previous_response_id_continues_the_conversation(client, upstream):
    first = client.responses.create(model="haiku", input="Hi, I'm Bob.")
    second = client.responses.create(model="haiku", input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert user_texts(upstream.posts[-1]["body"])[:2] == [("user", "Hi, I'm Bob."), ("assistant", DEFAULT_TEXT)]
    assert client.responses.retrieve(second.id).output_text == DEFAULT_TEXT
    items = client.responses.input_items.list(second.id, order="asc")
    assert [item.type for item in items] == ["message", "message", "message"]
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_parse_gives_a_pydantic_object(client):
    response = client.responses.parse(model="haiku", input="Describe Paris. [stub:json_schema]", text_format=City)
    assert response.output_parsed == City(city="Paris", population=1)


# --- the OpenAI Agents SDK (Responses by default) ------------------------------------------------

def test_an_agent_calls_a_function_tool_and_answers(server, stub):
    import agents

    called = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        called.append(city)
        return f"It is sunny in {city}."

    async def run():
        agents.set_tracing_disabled(True)
        agents.set_default_openai_client(openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="any-key",
                                                            max_retries=0), use_for_tracing=False)
        agent = agents.Agent(name="Weather", instructions="You answer about the weather.", model="haiku",
                             tools=[get_weather])
        return await agents.Runner.run(agent, "What is the weather in Paris?")

    stub.expect(structured, Reply(text="It is sunny in Paris."))
    result = asyncio.run(run())
    assert called == ["Paris"] and result.final_output == "It is sunny in Paris."


# --- the Codex CLI (codex exec, a custom provider) -----------------------------------------------

@pytest.fixture(scope="session")
def codex():
    prefix = pathlib.Path(REPO) / ".cache" / "codex"
    binary = prefix / "node_modules" / ".bin" / "codex"
    if not binary.exists():
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                        CODEX_NPM], check=True, timeout=600)
    return binary


CODEX_CONFIG = """\
model = "haiku"
model_provider = "claude"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false

[model_providers.claude]
name = "Claude CLI proxy"
base_url = "{url}/v1"
wire_api = "responses"
env_key = "CLAUDE_PROXY_KEY"
request_max_retries = 0
stream_max_retries = 0
"""


def test_codex_exec_gets_an_answer(server, codex, tmp_path, upstream):
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(CODEX_CONFIG.format(url=server.url))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CODEX_HOME": str(home), "CLAUDE_PROXY_KEY": "any-key"}
    done = subprocess.run([str(codex), "exec", "--skip-git-repo-check", "--sandbox", "read-only", "--ephemeral",
                           "Say hi"], cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert DEFAULT_TEXT in done.stdout
    [post] = upstream.posts
    assert any(role == "user" and "Say hi" in text for role, text in user_texts(post["body"]))
    offered = structured_schema(post["body"])["properties"]["tool_calls"]["items"]["anyOf"]
    assert "exec_command" in [branch["properties"]["name"]["const"] for branch in offered]
