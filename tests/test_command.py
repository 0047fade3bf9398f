"""What a run is sent: stream-json on stdin, the schema in initialize, the prompt as one user message."""
import json

from proxy.command import BASE_FLAGS, CliInput, stdin_bytes


def lines(cli_input):
    return [json.loads(line) for line in stdin_bytes(cli_input).decode().splitlines()]


def test_every_run_reads_stream_json_and_the_prompt_is_one_user_message_of_text():
    assert BASE_FLAGS[BASE_FLAGS.index("--input-format") + 1] == "stream-json"
    message = ({"type": "text", "text": "Hi"}, {"type": "text", "text": "there"})
    assert lines(CliInput(model="haiku", message=message)) == [
        {"type": "user", "message": {"role": "user", "content": "Hi\n\nthere"}}]


def test_the_schema_travels_in_initialize_however_large():
    schema = {"type": "object", "description": "x" * 200_000}
    sent = lines(CliInput(model="haiku", message=({"type": "text", "text": "Hi"},), json_schema=schema))
    assert sent[0] == {"type": "control_request", "request_id": "initialize",
                       "request": {"subtype": "initialize", "jsonSchema": schema}}
    assert sent[1]["type"] == "user"


def test_images_and_function_results_are_sent_as_blocks():
    message = ({"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}, {"type": "text", "text": "And?"})
    assert lines(CliInput(model="haiku", message=message))[-1]["message"]["content"] == list(message)
