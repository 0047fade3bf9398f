"""The scenarios harness/record.py records: what each run asks the CLI, and how it is run.

The prompt always carries the `[stub:NAME]` marker of the scenario's own name, which is how the
fake CLI finds the recording at replay time. `upstream` names a stub reply to queue when the
scenario's name is not itself one of the stub's scenarios.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from proxy.command import CliInput
from proxy.config import Settings
from proxy.api import openai_responses_input
from proxy.api.openai_chat_input import to_cli_input


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    prompt: str = "Say hi"
    model: str = "haiku"
    system_prompt: str = "You are terse."
    history: tuple = ()
    effort: str | None = None
    max_output_tokens: int | None = None
    upstream: str | None = None  # stub reply queued for the first request
    logged_in: bool = True  # False: no ANTHROPIC_API_KEY at all
    change_argv: Callable | None = None  # turns the proxy's argv into the one run
    kill_after: float | None = None  # SIGTERM the group after this many seconds (SIGKILL 2 s later)
    kill_on_first_delta: bool = False  # SIGKILL the group when the first text_delta line arrives
    controls: tuple = ()  # control requests written before the proxy's own stdin
    warm: bool = False  # started ahead with what a spare is started with, and sent the rest 1.5 s later
    marker: str | None = None  # the [stub:NAME] of the prompt, when not the scenario's own name

    request: dict | None = None  # an OpenAI request body, turned into CLI input as the proxy does
    responses: dict | None = None  # an OpenAI Responses request body, likewise

    def cli_input(self):
        if self.request is not None:
            return to_cli_input(self.request, Settings())[0]
        if self.responses is not None:
            return openai_responses_input.to_cli_input(self.responses, Settings())[0]
        return CliInput(model=self.model, message=({"type": "text", "text": f"{self.prompt} [stub:{self.marker or self.name}]"},),
                        system_prompt=self.system_prompt, history=self.history, effort=self.effort,
                        max_output_tokens=self.max_output_tokens)


def _turn(role, text):
    return role, ({"type": "text", "text": text},)


BOB = (_turn("user", "Hi, I'm Bob."), _turn("assistant", "Hello Bob!"), _turn("user", "I like tea."),
       _turn("assistant", "Noted."))


def _without_verbose(argv):
    return [a for a in argv if a != "--verbose"]


def _text_output(argv):
    # --include-partial-messages goes too: with it the CLI refuses text output as a usage error; so does
    # stream-json input, which then reads the proxy's stdin lines as a plain prompt.
    argv = list(argv)
    del argv[argv.index("--input-format"):argv.index("--input-format") + 2]
    i = argv.index("--output-format") + 1
    return [a for a in argv[:i] + ["text"] + argv[i + 1:] if a != "--include-partial-messages"]


def _error(name, what):
    return Scenario(name, f"The stub answers {what}; the CLI gives up at once (CLAUDE_CODE_MAX_RETRIES=0).")


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "The local time in a time zone.",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
CITY = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"], "additionalProperties": False}
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _ask(name, text, **fields):
    """An OpenAI request whose last user message carries the scenario's marker."""
    return {"model": "haiku", "messages": [{"role": "system", "content": "You are terse."},
                                           {"role": "user", "content": f"{text} [stub:{name}]"}], **fields}


def _tools(name, description, text="Weather in Paris?", **fields):
    return Scenario(name, description, request=_ask(name, text, tools=[WEATHER, TIME], **fields))


def _json(name, description, response_format):
    return Scenario(name, description, request=_ask(name, "Describe Paris.", response_format=response_format))


ROUND_TRIP = {"model": "haiku", "tools": [WEATHER, TIME], "messages": [
    {"role": "user", "content": "Weather and time in Paris? [stub:tools_round_trip]"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"zone":"CET"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "14:05"}]}


def _results(name, then=None):
    """A conversation whose last messages answer one get_weather call (then, optionally, the user's text)."""
    messages = [{"role": "user", "content": f"Weather in Paris? [stub:{name}]"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                                      "arguments": '{"city":"Paris"}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}]
    return {"model": "haiku", "tools": [WEATHER], "messages": messages + (
        [{"role": "user", "content": then}] if then else [])}


IMAGE_HISTORY = {"model": "haiku", "messages": [
    {"role": "user", "content": [{"type": "text", "text": "What is in this image? [stub:image_history]"},
                                 {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
    {"role": "assistant", "content": "A single pixel."},
    {"role": "user", "content": "What colour is it? [stub:image_history]"}]}

CUSTOM_TOOL = {"model": "haiku", "instructions": "You are terse.", "input": "Add hello.txt [stub:responses_custom_tool]",
               "tools": [{"type": "custom", "name": "apply_patch", "description": "Edit files; the patch is free text.",
                          "format": {"type": "grammar", "syntax": "lark",
                                     "definition": "start: begin_patch hunk+ end_patch"}},
                         {"type": "function", "name": "exec_command", "description": "Run a command.",
                          "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                                         "required": ["cmd"]}}],
               "tool_choice": {"type": "custom", "name": "apply_patch"}}

TOOL_SCENARIOS = (
    _tools("tools_call", "tool_choice auto: the model calls get_weather through StructuredOutput."),
    _tools("tools_parallel", "tool_choice auto: the model makes two calls in one answer."),
    _tools("tools_text", "tool_choice auto: the model answers in text; the CLI would insist on StructuredOutput "
                         "but --max-turns 1 stops it.", text="Say hi"),
    _tools("tools_invalid", "tool_choice auto: the model's call does not match the schema; --max-turns 1 allows "
                            "no second try.", ),
    _tools("tools_required_retry", "tool_choice required: the model answers in text, the CLI insists, the model "
                                   "then calls a function (--max-turns 3).", tool_choice="required"),
    _tools("tools_named", "tool_choice names get_time: only that function can be called.",
           tool_choice={"type": "function", "function": {"name": "get_time"}}),
    Scenario("tools_round_trip", "The conversation ends with the results of two calls, sent as the user message "
                                 "after a transcript cut at the calls (--resume-session-at); the model answers "
                                 "in text.", request=ROUND_TRIP),
    Scenario("tools_result", "The conversation ends with the result of one call; the model answers in text.",
             request=_results("tools_result")),
    Scenario("tools_result_then_text", "The result of one call, then the user's own text in the same turn.",
             request=_results("tools_result_then_text", "Thanks! Now in Fahrenheit?")),
    _json("json_schema", "response_format json_schema: the model answers through StructuredOutput.",
          {"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": CITY}}),
    _json("json_schema_retry", "response_format json_schema: the first answer does not match, the CLI asks "
                               "again, the second does.",
          {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}),
    _json("json_text_first", "response_format json_schema: the model first answers in text, the CLI insists, "
                             "the model then answers through StructuredOutput.",
          {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}),
    _json("json_invalid", "response_format json_schema: no answer matches within --max-turns 3.",
          {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}),
    _json("json_object", "response_format json_object.", {"type": "json_object"}),
    Scenario("image_history", "An image in an earlier user turn: it reaches the model in the transcript.",
             request=IMAGE_HISTORY),
    Scenario("image", "A user message with text and a base64 PNG, sent as stream-json content blocks.",
             request={"model": "haiku", "messages": [{"role": "user", "content": [
                 {"type": "text", "text": "What is in this image? [stub:image]"},
                 {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]}),
    Scenario("responses_custom_tool", "Responses API: a freeform (custom) tool with a grammar, as Codex offers "
                                      "apply_patch, forced by tool_choice; the model calls it with its text as "
                                      "the one argument.", upstream="tools_call", responses=CUSTOM_TOOL),
)

SCENARIOS = (
    Scenario("success", "A short streamed text answer."),
    Scenario("multi_turn", "A four-turn history passed with --resume, then a question about it.",
             prompt="What is my name?", history=BOB),
    Scenario("slow", "A text answer streamed as 6 deltas 300 ms apart."),
    Scenario("thinking", "A streamed thinking block, then the text answer."),
    Scenario("cached", "A text answer whose usage reports cache reads and cache writes."),
    Scenario("max_tokens", "The first answer stops at max_tokens (CLAUDE_CODE_MAX_OUTPUT_TOKENS=10); "
                           "the CLI asks for a continuation by itself.", max_output_tokens=10),
    _error("rate_limit", "429 rate_limit_error with retry-after: 7"),
    _error("overloaded", "529 overloaded_error"),
    _error("server_error", "500 api_error"),
    _error("auth", "401 authentication_error"),
    _error("forbidden", "403 permission_error (credit balance too low)"),
    Scenario("not_found", "The stub answers 404 not_found_error for the unknown model no-such-model.",
             model="no-such-model"),
    _error("prompt_too_long", "400 invalid_request_error: prompt is too long"),
    _error("bad_request", "400 invalid_request_error about the message content"),
    _error("drop", "by closing the connection without a response"),
    _error("stream_error", "with two text deltas, then an SSE error event (overloaded_error)"),
    Scenario("not_logged_in", "No ANTHROPIC_API_KEY and an empty HOME: the CLI has no credentials.",
             logged_in=False),
    Scenario("effort", "A short text answer with --effort high and model sonnet.", model="sonnet", effort="high"),
    Scenario("tool_call", "The model answers with a tool_use block (get_weather) although no tools are offered; "
                          "the CLI answers it with an error tool_result and calls the model again."),
    *TOOL_SCENARIOS,
    Scenario("hang", "The stub never answers; the recorder SIGTERMs the CLI's group after 3 s.", kill_after=3.0),
    Scenario("stall", "The stub sends headers and message_start, then nothing; the recorder SIGTERMs "
                      "the CLI's group after 3 s.", kill_after=3.0),
    Scenario("oom_killed", "A slow streamed answer; the CLI's group is SIGKILLed when the first text delta "
                           "arrives, as the system would kill it mid-answer.", upstream="slow",
             kill_on_first_delta=True),
    Scenario("control_refused", "A control request the CLI refuses (set_model to an empty name) before the "
                                "prompt: it answers with an error and goes on with its own model.",
             controls=({"type": "control_request", "request_id": "model",
                        "request": {"subtype": "set_model", "model": ""}},)),
    Scenario("usage_error", "The proxy's argv without --verbose, which stream-json output requires: the CLI "
                            "rejects its arguments.", change_argv=_without_verbose),
    Scenario("text_output", "The proxy's argv with --output-format text and no --include-partial-messages: "
                            "the CLI prints plain text, not JSON lines.", change_argv=_text_output),
)

# Each started ahead, as a spare is (model, transcript and turns at start), and bound 1.5 s later
# with the rest: its upstream requests must be its cold twin's (harness/diff.py, TWINS).
WARM_TWINS = ("success", "multi_turn", "effort", "max_tokens", "tools_call", "tools_round_trip", "json_schema",
              "image")
SCENARIOS += tuple(dataclasses.replace(s, name=f"{s.name}_warm", warm=True, marker=s.marker or s.name,
                                       description=f"Warm twin of {s.name}: {s.description}")
                   for s in SCENARIOS if s.name in WARM_TWINS)
