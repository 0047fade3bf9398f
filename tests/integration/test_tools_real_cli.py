"""Tool calling and structured output with the real CLI, through the openai SDK and LangChain."""
import json

import jsonschema
import openai
import pydantic
import pytest

from harness.record_scenarios import TIME, WEATHER

pytestmark = pytest.mark.integration


class City(pydantic.BaseModel):
    city: str
    population: int


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="any-key", max_retries=0)


def structured_tool(post):
    [tool] = [t for t in post["body"]["tools"] if t["name"] == "StructuredOutput"]
    return tool["input_schema"]


def test_tool_call_reaches_the_sdk_with_valid_arguments(client, upstream):
    answer = client.chat.completions.create(model="haiku", tools=[WEATHER, TIME], messages=[
        {"role": "user", "content": "Weather in Paris? [stub:tools_call]"}])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])
    [post] = upstream.posts
    names = [b["properties"]["name"]["const"] for b in structured_tool(post)["properties"]["tool_calls"]["items"]["anyOf"]]
    assert names == ["get_weather", "get_time"]
    assert "## get_weather\nThe current weather in a city." in post["body"]["system"][-1]["text"]


def test_an_agent_loop_of_two_steps(client, upstream):
    messages = [{"role": "user", "content": "Weather in Paris? [stub:tools_call]"}]
    first = client.chat.completions.create(model="haiku", tools=[WEATHER], messages=messages)
    call = first.choices[0].message.tool_calls[0]
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C, sunny"},
                 {"role": "user", "content": "Thanks! Summarise. [stub:success]"}]
    second = client.chat.completions.create(model="haiku", tools=[WEATHER], messages=messages)
    assert second.choices[0].message.content == "Hello! How can I help you today?"
    body = upstream.posts[-1]["body"]
    turns = [m for m in body["messages"] if m["role"] != "system"]
    # Real tool turns, and nothing the client did not write: the results and the user's text after
    # them are one user turn, the last.
    assert [(m["role"], [b["type"] for b in m["content"]]) for m in turns] == [
        ("user", ["text"]), ("assistant", ["text", "tool_use"]), ("user", ["tool_result", "text"])]
    result, text = turns[-1]["content"]
    assert json.loads(result["content"]) == [{"name": "get_weather", "content": "18C, sunny"}]
    assert result["tool_use_id"] == turns[1]["content"][1]["id"]
    assert text == {"type": "text", "text": "Thanks! Summarise. [stub:success]"}


def test_streamed_tool_calls_are_assembled_by_the_sdk(client):
    stream = client.chat.completions.create(model="haiku", tools=[WEATHER, TIME], stream=True, messages=[
        {"role": "user", "content": "Both please [stub:tools_parallel]"}])
    calls, finish = {}, None
    for chunk in stream:
        for piece in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            entry = calls.setdefault(piece.index, {"name": "", "arguments": ""})
            entry["name"] += piece.function.name or ""
            entry["arguments"] += piece.function.arguments or ""
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] == ["get_weather", "get_time"]
    assert all(isinstance(json.loads(c["arguments"]), dict) for c in calls.values())


def test_parse_returns_the_pydantic_object(client, upstream):
    answer = client.chat.completions.parse(model="haiku", response_format=City, messages=[
        {"role": "user", "content": "Describe Paris. [stub:json_schema]"}])
    assert answer.choices[0].message.parsed == City(city="Paris", population=1)
    assert structured_tool(upstream.posts[0])["required"] == ["city", "population"]


def test_langchain_bind_tools_gets_valid_tool_calls(server):
    from langchain_openai import ChatOpenAI

    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return "18C"

    model = ChatOpenAI(model="haiku", base_url=server.url + "/v1", api_key="any-key", max_retries=0)
    message = model.bind_tools([get_weather]).invoke("Weather in Paris? [stub:tools_call]")
    [call] = message.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}


def test_langchain_with_structured_output_returns_the_object(server):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="haiku", base_url=server.url + "/v1", api_key="any-key", max_retries=0)
    assert model.with_structured_output(City).invoke("Describe Paris. [stub:json_schema]") == City(
        city="Paris", population=1)
