"""What reaches the model is what the client sent: the stub's requests, turn by turn, with the real CLI.

Besides the client's conversation the CLI sends its own system blocks (its billing header and
"You are a Claude agent..." preamble) and, after the last turn, one `role: "system"` message with
the model's identity and the date (README: "What the model sees"). Nothing names this host.
"""
import json
import os
import platform

import openai
import pytest

from harness.record_scenarios import PNG, TIME, WEATHER

pytestmark = pytest.mark.integration


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="any-key", max_retries=0)


def turns(post):
    """The (role, [block types or text]) of each user and assistant message the model got."""
    out = []
    for message in post["body"]["messages"]:
        if message["role"] == "system":
            continue
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        out.append((message["role"], [b["text"] if b["type"] == "text" else b["type"] for b in blocks]))
    return out


def beyond_the_conversation(post):
    """The text of the role: system messages the CLI adds to the conversation."""
    return [b.get("text", "") for m in post["body"]["messages"] if m["role"] == "system" for b in m["content"]]


def assert_nothing_of_the_host(post):
    sent = json.dumps(post["body"])
    assert platform.release() not in sent
    assert "/tmp/claude-proxy-" not in sent and os.path.realpath("/tmp") + "/claude-proxy-" not in sent
    assert "# Environment" not in sent and "Primary working directory" not in sent and "<total_tokens>" not in sent


def test_a_plain_conversation_is_the_clients_turns_and_nothing_of_the_host(client, upstream):
    client.chat.completions.create(model="haiku", messages=[
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi, I'm Bob."},
        {"role": "assistant", "content": "Hello Bob!"}, {"role": "user", "content": "What is my name?"}])
    [post] = upstream.posts
    assert turns(post) == [("user", ["Hi, I'm Bob."]), ("assistant", ["Hello Bob!"]), ("user", ["What is my name?"])]
    assert [b["text"] for b in post["body"]["system"]][-1] == "You are terse."
    assert_nothing_of_the_host(post)
    [identity] = [text for text in beyond_the_conversation(post) if text]
    assert identity.startswith("You are powered by the model named") and "Today's date is" in identity


def call(ident, name, arguments):
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


@pytest.mark.parametrize("calls, then", [
    ([call("call_1", "get_weather", {"city": "Paris"})], None),
    ([call("call_1", "get_weather", {"city": "Paris"}), call("call_2", "get_time", {"zone": "CET"})], None),
    ([call("call_1", "get_weather", {"city": "Paris"})], "Thanks! And tomorrow?"),
], ids=["one call", "two calls", "then the user's text"])
def test_function_results_are_the_last_turn_with_nothing_added(client, upstream, calls, then):
    messages = [{"role": "user", "content": "Weather and time in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": calls}]
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": f"result of {c['id']}"} for c in calls]
    messages += [{"role": "user", "content": then}] if then else []
    answer = client.chat.completions.create(model="haiku", tools=[WEATHER, TIME], messages=messages)
    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    [post] = upstream.posts
    assert turns(post) == [("user", ["Weather and time in Paris?"]), ("assistant", ["tool_use"]),
                           ("user", ["tool_result"] + ([then] if then else []))]
    last = [m for m in post["body"]["messages"] if m["role"] != "system"][-1]
    assert json.loads(last["content"][0]["content"]) == [
        {"name": c["function"]["name"], "content": f"result of {c['id']}"} for c in calls]
    assert "No response requested." not in json.dumps(post["body"])
    assert_nothing_of_the_host(post)


def test_an_image_in_an_earlier_turn_reaches_the_model_in_that_turn(client, upstream):
    client.chat.completions.create(model="haiku", messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
        {"role": "assistant", "content": "A single pixel."},
        {"role": "user", "content": "What colour is it?"}])
    [post] = upstream.posts
    assert turns(post) == [("user", ["What is this?", "image"]), ("assistant", ["A single pixel."]),
                           ("user", ["What colour is it?"])]
    image = post["body"]["messages"][0]["content"][1]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert_nothing_of_the_host(post)
