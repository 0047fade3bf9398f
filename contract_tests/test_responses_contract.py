"""/v1/responses under gunicorn: every object and stream event matches openapi.yaml and OpenAI's schemas."""
import json
import sqlite3

import jsonschema
import pytest
import requests

from contract_tests.support import ROOT, Server
from contract_tests.test_contract import ERRORS
from proxy.spec import Spec
from tests.test_openai_responses import CODEX, TIME, WEATHER

SPEC = Spec()
BUNDLE = json.loads((ROOT / "contract_tests" / "reference" / "openai_responses_schemas.json").read_text())


def official(name, payload):
    jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": BUNDLE["$defs"]}).validate(payload)
    return payload


def create(server, stream=False, **body):
    body = {"model": "haiku", "input": "Say hi"} | body | ({"stream": True} if stream else {})
    return requests.post(server.url + "/v1/responses", json=body, stream=stream, timeout=30)


def check(operation_id, response, definition):
    payload = response.json()
    SPEC.response_validator(operation_id, response.status_code).validate(payload)
    return official(definition, payload)


def events(response):
    """The events of a stream, read and validated one at a time as they arrive."""
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    out, kind = [], None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            event = json.loads(line[6:])
            assert event["type"] == kind
            SPEC.schema_validator("ResponseStreamEvent").validate(event)
            out.append(official("ResponseStreamEvent", event))
        else:
            assert line == "" or line.startswith(":"), line
    return out


def test_a_response_matches_both_schemas(server):
    response = create(server, instructions="Be terse.")
    body = check("createResponse", response, "Response")
    assert body["status"] == "completed" and body["output"][0]["content"][0]["text"]
    assert float(response.headers["x-claude-cost-usd"]) > 0


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error(server, name):
    response = create(server, input=f"Say hi [stub:{name}]")
    body = check("createResponse", response, "ErrorResponse")
    status, kind, code = ERRORS[name]
    assert (response.status_code, body["error"]["type"], body["error"]["code"]) == (status, kind, code)


@pytest.mark.parametrize("name, fields", [
    ("slow", {}),
    ("tools_parallel", {"tools": [WEATHER, TIME]}),
    ("json_schema", {"text": {"format": {"type": "json_schema", "name": "city", "schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}),
    ("max_tokens", {"max_output_tokens": 10}),
    ("stream_error", {}),
])
def test_stream_events_validate_one_at_a_time(server, name, fields):
    got = events(create(server, True, input=f"Go [stub:{name}]", **fields))
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    assert got[0]["type"] == "response.created" and got[-1]["type"] in (
        "response.completed", "response.incomplete", "response.failed")
    done = [e["item"] for e in got if e["type"] == "response.output_item.done"]
    assert got[-1]["response"]["output"] == done


def test_a_stream_failing_before_the_model_starts_gets_the_json_status(server):
    response = create(server, True, input="Say hi [stub:overloaded]")
    assert response.status_code == 503
    check("createResponse", response, "ErrorResponse")


def test_a_codex_request_is_answered_as_a_stream(server):
    codex = json.loads(json.dumps(CODEX))
    codex["input"][-1]["content"][0]["text"] = "Say hi, Codex here [stub:tools_text]"
    got = events(create(server, **codex, stream=True))
    assert got[-1]["type"] == "response.completed"
    call = server.call_with("Say hi, Codex here [stub:tools_text]")
    assert call["system_prompt"].startswith("You are Codex, a coding agent.")


def test_stored_responses_read_list_and_delete(server):
    body = create(server).json()
    check("getResponse", requests.get(f"{server.url}/v1/responses/{body['id']}", timeout=10), "Response")
    page = requests.get(f"{server.url}/v1/responses/{body['id']}/input_items", timeout=10)
    SPEC.response_validator("listInputItems", 200).validate(page.json())
    for item in page.json()["data"]:
        official("Item", item)
    deleted = requests.delete(f"{server.url}/v1/responses/{body['id']}", timeout=10)
    SPEC.response_validator("deleteResponse", 200).validate(deleted.json())
    missing = requests.get(f"{server.url}/v1/responses/{body['id']}", timeout=10)
    assert missing.status_code == 404 and check("getResponse", missing, "ErrorResponse")


def test_previous_response_id_reaches_the_cli_as_a_transcript(server):
    first = create(server, input="Hi, I'm Bob.", instructions="You are terse.").json()
    second = create(server, input="What is my name, then? [stub:multi_turn]", previous_response_id=first["id"])
    check("createResponse", second, "Response")
    call = server.call_with("What is my name, then? [stub:multi_turn]")
    assert [(r["type"], r["message"]["content"][0]["text"]) for r in call["history"]] == [
        ("user", "Hi, I'm Bob."), ("assistant", first["output"][0]["content"][0]["text"])]
    assert call["system_prompt"] is None or "terse" not in call["system_prompt"]  # instructions are not carried


def test_previous_response_id_survives_a_restart(tmp_path):
    database = tmp_path / "kept.sqlite3"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = Server(tmp_path / "one", RESPONSES_DB=str(database))
    try:
        stored = create(first, input="Hi, I'm Bob.").json()
    finally:
        first.stop()
    second = Server(tmp_path / "two", RESPONSES_DB=str(database))
    try:
        response = create(second, input="What is my name? [stub:multi_turn]", previous_response_id=stored["id"])
        assert response.status_code == 200
        history = second.call_with("What is my name? [stub:multi_turn]")["history"]
        assert history[0]["message"]["content"][0]["text"] == "Hi, I'm Bob."
    finally:
        second.stop()


def test_store_false_leaves_nothing_behind(server):
    body = create(server, input="Say hi, unstored", store=False).json()
    assert requests.get(f"{server.url}/v1/responses/{body['id']}", timeout=10).status_code == 404
    with sqlite3.connect(server.log.parent / "responses.sqlite3") as connection:
        assert not connection.execute("SELECT count(*) FROM responses WHERE response LIKE ?",
                                      (f"%{body['id']}%",)).fetchone()[0]
        assert not connection.execute("SELECT count(*) FROM responses WHERE items LIKE '%unstored%'").fetchone()[0]


def test_hosted_tools_alone_are_a_400_naming_them(server):
    response = create(server, tools=[{"type": "web_search"}])
    assert response.status_code == 400 and check("createResponse", response, "ErrorResponse")["error"][
        "param"] == "tools[0]"
