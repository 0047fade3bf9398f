"""Tools and response_format as the CLI can carry them (pure: data in, data out).

The CLI offers the model none of the client's functions directly; it offers one tool of its own,
StructuredOutput, whose input must match the schema given with --json-schema, and the CLI checks
that input (and asks the model again when it does not match, as --max-turns allows). So:

- tools: the schema is {"tool_calls": [{"name": <function>, "arguments": <its parameters>}, ...]};
  the functions and how to call them are described in the system prompt; the calls the CLI accepts
  become the client's tool calls. With tool_choice "auto" the model may answer in text instead.
- a JSON answer (response_format, text.format): the schema is the client's; the accepted input is
  the answer's content.

Earlier calls and their results reach the model as a StructuredOutput tool_use and a tool_result
holding the results in call order.
"""
from __future__ import annotations

import dataclasses
import json

STRUCTURED_TOOL = "StructuredOutput"
RETRY_TURNS = 3  # the model's first answer and two corrections, when an answer must be structured


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the model is asked for beyond text."""

    kind: str  # "tools" or "json"
    schema: dict | None  # for --json-schema; None: tools are only described
    max_turns: int = 1
    system: str = ""  # appended to the system prompt
    text_allowed: bool = False  # tools "auto": a plain text answer is an answer
    wrapped: bool = False  # json: the client's schema was not an object and sits under "value"


def plan_json(schema=None):
    """Return the Plan for a JSON answer: matching schema (any JSON Schema), or any JSON object."""
    schema = schema or {"type": "object"}
    if schema.get("type") == "object":
        return Plan("json", schema, RETRY_TURNS)
    return Plan("json", {"type": "object", "properties": {"value": schema}, "required": ["value"],
                         "additionalProperties": False}, RETRY_TURNS, wrapped=True)


def plan_tools(functions, choice="auto", allowed=None, parallel=True):
    """Return the Plan for the client's functions.

    functions maps each name to {"name", "description", "parameters"}; choice is "auto",
    "required", "none" or the one function's name the model must call; allowed (names) limits
    what "auto" and "required" may call.
    """
    allowed = {n: f for n, f in functions.items() if allowed is None or n in allowed}
    return _tool_plan(functions, allowed, choice, parallel)


def _tool_plan(functions, allowed, choice, parallel):
    if choice == "none":
        return Plan("tools", None, system=describe(functions, "You cannot call these functions in this answer; "
                                                              "answer in plain text."))
    callable_ = allowed if choice in ("auto", "required") else {choice: functions[choice]}
    calls = {"type": "array", "minItems": 1, "items": {"anyOf": [_call_schema(f) for f in callable_.values()]}}
    if not parallel or choice not in ("auto", "required"):
        calls["maxItems"] = 1
    schema = {"type": "object", "properties": {"tool_calls": calls}, "required": ["tool_calls"],
              "additionalProperties": False}
    rule = {"auto": "If no function is needed, answer in plain text and do not call StructuredOutput.",
            "required": "You must call at least one function now."}.get(choice, f"You must call `{choice}` now.")
    one = "" if parallel and choice in ("auto", "required") else " (one call at most)"
    instructions = (f"To call functions, call the StructuredOutput tool once with {{\"tool_calls\": [{{\"name\": "
                    f"<function name>, \"arguments\": {{...}}}}, ...]}}{one}. The results come back to you in that "
                    f"tool's result, as a JSON list in call order. {rule}")
    auto = choice == "auto"
    return Plan("tools", schema, 1 if auto else RETRY_TURNS, describe(functions, instructions), text_allowed=auto)


def _call_schema(function):
    branch = {"type": "object", "properties": {"name": {"const": function["name"]},
                                               "arguments": function.get("parameters") or {"type": "object"}},
              "required": ["name", "arguments"], "additionalProperties": False}
    if function.get("description"):
        branch["description"] = function["description"]
    return branch


def describe(functions, instructions):
    """Return the system prompt section that lists the functions."""
    parts = ["# Functions", instructions]
    for function in functions.values():
        parts.append(f"## {function['name']}\n{function.get('description') or ''}\nParameters (JSON Schema): "
                     + json.dumps(function.get("parameters") or {"type": "object"}))
    return "\n\n".join(parts)


def call_block(calls, ident):
    """Return earlier calls [{"name", "arguments"}] as the StructuredOutput tool_use they answer to."""
    return {"type": "tool_use", "id": ident, "name": STRUCTURED_TOOL,
            "input": {"tool_calls": [{"name": c["name"], "arguments": c["arguments"]} for c in calls]}}


def result_block(results, ident):
    """Return the tool messages answering one tool_use as its tool_result: [{name, content}] in call order."""
    return {"type": "tool_result", "tool_use_id": ident, "content": json.dumps(results, ensure_ascii=False)}


def calls_of(structured):
    """Return the calls [{"name", "arguments"}] of an accepted {"tool_calls": [...]} input."""
    return [{"name": call["name"], "arguments": call["arguments"]} for call in (structured or {}).get("tool_calls") or ()]


def value_of(structured, plan):
    """Return the JSON value of an accepted json answer."""
    return structured["value"] if plan.wrapped else structured
