"""POST /v1/responses over recorded CLI runs: response objects, typed streams, errors, stored responses."""
import json
import sqlite3

import jsonschema
import pytest

from harness.record_scenarios import CUSTOM_TOOL
from tests.support import ROOT
from tests.test_failures import CASES

OFFICIAL = json.loads((ROOT / "contract_tests" / "reference" / "openai_responses_schemas.json").read_text())
WEATHER = {"type": "function", "name": "get_weather", "description": "The current weather in a city.", "strict": True,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}
TIME = {"type": "function", "name": "get_time", "description": "The local time in a time zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}
CITY = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"], "additionalProperties": False}


@pytest.fixture
def settings(settings, tmp_path):
    return settings.replace(responses_db=str(tmp_path / "responses.sqlite3"))


@pytest.fixture
def official():
    def validate(name, payload):
        jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": OFFICIAL["$defs"]}).validate(payload)
        return payload
    return validate


@pytest.fixture
def respond(client, app, official):
    """POST a request; return the validated response object, or (stream) its validated events."""
    spec = app.extensions["spec"]

    def post(status=200, **body):
        response = client.post("/v1/responses", json={"model": "haiku", "input": "Say hi"} | body)
        assert response.status_code == status, response.get_data(as_text=True)
        if not body.get("stream") or status != 200:
            payload = response.get_json()
            spec.response_validator("createResponse", status).validate(payload)
            return official("Response" if status == 200 else "ErrorResponse", payload)
        return [official("ResponseStreamEvent", spec_checked(spec, event)) for event in typed_events(response)]

    return post


def spec_checked(spec, event):
    spec.schema_validator("ResponseStreamEvent").validate(event)
    return event


def typed_events(response):
    """The events of an SSE body: each an `event:` line naming the data's type, then its `data:` line."""
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if not block or block.startswith(":"):
            continue
        kind, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}"
        events.append(payload)
    return events


def test_answer_is_a_completed_response(respond, replay):
    replay("success")
    body = respond(instructions="Be terse.", metadata={"app": "test"})
    assert body["object"] == "response" and body["id"].startswith("resp_")
    assert body["status"] == "completed" and body["model"] == "claude-haiku-5-5"
    [message] = body["output"]
    assert message["type"] == "message" and message["status"] == "completed"
    assert message["content"] == [{"type": "output_text", "text": "Hello! How can I help you today?",
                                   "annotations": [], "logprobs": []}]
    assert body["instructions"] == "Be terse." and body["metadata"] == {"app": "test"}
    usage = body["usage"]
    assert usage["input_tokens"] > 0 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_cache_reads_and_writes_count_as_input_tokens(respond, replay):
    replay("cached")
    usage = respond()["usage"]
    assert usage["input_tokens_details"] == {"cached_tokens": 100, "cache_write_tokens": 20}
    assert usage["input_tokens"] >= 120


def test_max_tokens_is_incomplete_with_the_reason(respond, replay):
    replay("max_tokens")
    body = respond(max_output_tokens=10)
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"
    assert body["output"][0]["content"][0]["text"] == "This answer is cut"


def test_thinking_is_a_reasoning_summary_only_when_exposed(app, respond, replay):
    replay("thinking")
    assert [item["type"] for item in respond()["output"]] == ["message"]
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(reasoning=True)
    replay("thinking")
    body = respond()
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["output"][0]["summary"] == [{"type": "summary_text", "text": "Let me think about that."}]


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_failure_is_an_openai_error(respond, replay, name):
    replay(name)
    status, kind, code, _ = CASES[name]
    assert respond(status)["error"]["code"] == code


def test_function_calls_are_items_with_call_ids(respond, replay):
    replay("tools_call")
    body = respond(tools=[WEATHER, TIME], input="Weather in Paris?")
    calls = [item for item in body["output"] if item["type"] == "function_call"]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0]["call_id"].startswith("call_") and calls[0]["id"].startswith("fc_")
    assert body["tools"] == [WEATHER, TIME | {"strict": None}]


def test_a_custom_tool_call_is_an_item_carrying_its_text(respond, replay):
    replay("responses_custom_tool")
    body = respond(**CUSTOM_TOOL)
    [call] = [item for item in body["output"] if item["type"] == "custom_tool_call"]
    assert (call["name"], call["input"]) == ("apply_patch", "Paris") and call["call_id"].startswith("call_")
    assert body["tool_choice"] == {"type": "custom", "name": "apply_patch"}


def test_a_streamed_custom_tool_call_sends_its_input(respond, replay):
    replay("responses_custom_tool")
    events = respond(stream=True, **CUSTOM_TOOL)
    kinds = [e["type"] for e in events if e.get("item", {}).get("type") == "custom_tool_call" or "custom" in e["type"]]
    assert kinds == ["response.output_item.added", "response.custom_tool_call_input.delta",
                     "response.custom_tool_call_input.done", "response.output_item.done"]
    assert events[-1]["response"]["output"][-1]["input"] == "Paris"


def test_a_json_format_answers_the_accepted_json(respond, replay):
    replay("json_schema")
    body = respond(text={"format": {"type": "json_schema", "name": "city", "schema": CITY, "strict": True}})
    assert json.loads(body["output"][0]["content"][0]["text"]) == {"city": "Paris", "population": 1}


# --- streams -------------------------------------------------------------------------------------

def test_stream_is_the_full_typed_sequence(respond, replay):
    replay("slow")
    events = respond(stream=True)
    kinds = [e["type"] for e in events]
    assert kinds == (["response.created", "response.in_progress", "response.output_item.added",
                      "response.content_part.added"] + ["response.output_text.delta"] * 6
                     + ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                        "response.completed"])
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "one two three four five six"
    completed = events[-1]["response"]
    assert completed["output"] == [events[-2]["item"]] and completed["output"][0]["content"][0]["text"] == text
    assert completed["usage"]["output_tokens"] > 0 and "usage" not in events[0]["response"]


def test_streamed_calls_open_carry_and_close_each_item(respond, replay):
    replay("tools_parallel")
    events = respond(stream=True, tools=[WEATHER, TIME], input="Both please")
    calls = [e for e in events if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"]
    assert [c["item"]["name"] for c in calls] == ["get_weather", "get_time"]
    for call in calls:
        mine = [e for e in events if e.get("item_id") == call["item"]["id"] or e.get("item", {}).get("id") ==
                call["item"]["id"]]
        assert [e["type"] for e in mine] == ["response.output_item.added", "response.function_call_arguments.delta",
                                             "response.function_call_arguments.done", "response.output_item.done"]
        assert mine[1]["delta"] == mine[2]["arguments"] == call["item"]["arguments"]
    assert events[-1]["response"]["output"] == [e["item"] for e in events if e["type"] == "response.output_item.done"]


def test_streamed_thinking_is_a_reasoning_item_before_the_message(app, respond, replay):
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(reasoning=True)
    replay("thinking")
    events = respond(stream=True)
    done = [e["item"]["type"] for e in events if e["type"] == "response.output_item.done"]
    assert done == ["reasoning", "message"]
    assert "response.reasoning_summary_text.delta" in [e["type"] for e in events]


def test_a_streamed_max_tokens_answer_ends_incomplete(respond, replay):
    replay("max_tokens")
    events = respond(stream=True, max_output_tokens=10)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_stream_failing_before_the_model_starts_gets_the_json_status(respond, replay):
    replay("rate_limit")
    assert respond(429, stream=True)["error"]["type"] == "rate_limit_error"


def test_stream_failing_after_the_start_ends_with_response_failed(respond, replay):
    replay("stream_error")
    events = respond(stream=True)
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert failed["response"]["output"][0]["status"] == "incomplete"


# --- stored responses ----------------------------------------------------------------------------

def test_a_stored_response_can_be_read_listed_and_deleted(client, respond, replay, official):
    replay("success")
    body = respond(input=[{"role": "user", "content": "Say hi"}])
    assert client.get(f"/v1/responses/{body['id']}").get_json() == body
    items = client.get(f"/v1/responses/{body['id']}/input_items").get_json()
    assert items["object"] == "list" and items["has_more"] is False
    [item] = items["data"]
    official("Item", item)
    assert item["role"] == "user" and item["content"] == [{"type": "input_text", "text": "Say hi"}]
    deleted = client.delete(f"/v1/responses/{body['id']}")
    assert deleted.get_json() == {"id": body["id"], "object": "response.deleted", "deleted": True}
    assert client.get(f"/v1/responses/{body['id']}").status_code == 404


def test_previous_response_id_continues_the_conversation(client, respond, replay):
    replay("success")
    first = respond(input="Hi, I'm Bob.")
    replay("success")
    second = respond(input="What is my name?", previous_response_id=first["id"])
    assert second["previous_response_id"] == first["id"]
    items = client.get(f"/v1/responses/{second['id']}/input_items?order=asc").get_json()["data"]
    assert [(i["role"], i["content"][0]["text"]) for i in items] == [
        ("user", "Hi, I'm Bob."), ("assistant", "Hello! How can I help you today?"), ("user", "What is my name?")]


def test_a_function_output_continues_the_call_of_the_previous_response(client, respond, replay):
    # What the Agents SDK sends with auto_previous_response_id: only the output, and the id.
    replay("tools_call")
    first = respond(tools=[WEATHER], input="Weather in Paris?")
    call = first["output"][-1]
    replay("tools_result")
    second = respond(tools=[WEATHER], previous_response_id=first["id"], input=[
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18C, sunny"}])
    assert second["status"] == "completed" and second["output"][0]["type"] == "message"
    items = client.get(f"/v1/responses/{second['id']}/input_items?order=asc").get_json()["data"]
    assert [i["type"] for i in items] == ["message", "message", "function_call", "function_call_output"]
    assert items[2] == call and items[3]["call_id"] == call["call_id"]


def test_an_unknown_previous_response_is_a_400(respond):
    body = respond(400, previous_response_id="resp_nope")
    assert body["error"]["param"] == "previous_response_id"


def test_store_false_keeps_nothing(client, respond, replay, settings):
    replay("success")
    body = respond(store=False)
    assert body["store"] is False
    assert client.get(f"/v1/responses/{body['id']}").status_code == 404
    with sqlite3.connect(settings.responses_db) as connection:
        assert connection.execute("SELECT count(*) FROM responses").fetchone() == (0,)


def test_input_items_come_a_page_at_a_time(client, respond, replay):
    replay("success")
    body = respond(input=[{"role": "user", "content": f"part {n}"} for n in range(5)])
    url = f"/v1/responses/{body['id']}/input_items"
    page = client.get(url + "?limit=2&order=asc").get_json()
    assert [i["content"][0]["text"] for i in page["data"]] == ["part 0", "part 1"] and page["has_more"]
    rest = client.get(url + f"?limit=10&order=asc&after={page['last_id']}").get_json()
    assert [i["content"][0]["text"] for i in rest["data"]] == ["part 2", "part 3", "part 4"] and not rest["has_more"]
    assert client.get(url + "?limit=0").status_code == 400 and client.get(url + "?order=up").status_code == 400


def test_a_failed_stream_is_stored_as_failed(client, respond, replay):
    replay("stream_error")
    failed = respond(stream=True)[-1]["response"]
    assert client.get(f"/v1/responses/{failed['id']}").get_json()["status"] == "failed"


# --- refusals and what is ignored ----------------------------------------------------------------

@pytest.mark.parametrize("fields, param", [
    ({"tools": [{"type": "web_search"}]}, "tools[0]"),
    ({"tools": [WEATHER, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
      "tool_choice": {"type": "file_search"}}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
    ({"background": True}, "background"),
    ({"conversation": "conv_1"}, "conversation"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"input": [{"type": "web_search_call", "id": "ws_1", "status": "completed"}]}, "input[0]"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]}, "input[0].content[0]"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"tools": [WEATHER], "text": {"format": {"type": "json_object"}}}, "text.format"),
    ({"input": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}, "input"),
])
def test_what_the_cli_cannot_do_is_a_400_naming_the_field(respond, fields, param):
    body = respond(400, **fields)
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["param"] == param


def test_hosted_tools_beside_functions_are_ignored(respond, replay):
    replay("tools_call")
    body = respond(tools=[WEATHER, {"type": "web_search"}, {"type": "namespace", "name": "ns", "description": "d",
                                                           "tools": [TIME]}], input="Weather in Paris?")
    assert [t["name"] for t in body["tools"]] == ["get_weather"]
    assert body["output"][-1]["type"] == "function_call"


def test_a_codex_request_is_answered(respond, replay):
    replay("tools_text")
    body = respond(**CODEX)
    assert body["output"][0]["content"][0]["text"]
    assert [t["name"] for t in body["tools"]] == ["exec_command", "apply_patch"]


CODEX = {  # the shape Codex CLI 0.171.0 sends (its prompts shortened), with the fields only it sends
    "model": "haiku", "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"summary": "auto"},
    "store": False, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "0199-thread",
    "client_metadata": {"turn_id": "t1", "session_id": "s1"}, "text": {"verbosity": "low"},
    "tools": [
        {"type": "function", "name": "exec_command", "description": "Runs a command.", "strict": False,
         "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"],
                        "additionalProperties": False}},
        {"type": "custom", "name": "apply_patch", "description": "Edit files. FREEFORM.",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
        {"type": "tool_search", "execution": "client", "description": "Tool discovery",
         "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}},
        {"type": "web_search", "external_web_access": False, "search_content_types": ["text", "image"]}],
    "input": [
        {"type": "message", "id": "msg_1", "role": "developer", "content": [
            {"type": "input_text", "text": "You are Codex, a coding agent."}]},
        {"type": "message", "id": "msg_2", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context><cwd>/w</cwd></environment_context>"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": None, "encrypted_content": None},
        {"type": "message", "id": "msg_3", "role": "user", "content": [
            {"type": "input_text", "text": "Say hi [stub:tools_text]"}]}],
}
