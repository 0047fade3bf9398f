"""Tools and response_format as the CLI can carry them (pure: data in, data out).

The CLI offers the model none of the client's functions directly; it offers one tool of its own,
StructuredOutput, whose input must match the schema given with --json-schema, and the CLI checks
that input (and asks the model again when it does not match, as --max-turns allows). So:

- tools: the schema is {"tool_calls": [{"name": <function>, "arguments": <its parameters>}, ...]};
  the functions and how to call them are described in the system prompt; the calls the CLI accepts
  become OpenAI tool_calls. With tool_choice "auto" the model may answer in text instead.
- response_format json_schema / json_object: the schema is the client's; the accepted input is the
  answer's content.

Earlier calls and their results reach the model as a StructuredOutput tool_use and a tool_result
holding the results in call order.
"""
from __future__ import annotations

import dataclasses
import json

from .errors import InvalidRequest

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


def plan(body):
    """Return the Plan for the request's tools or response_format, or None for plain text."""
    functions = _functions(body)
    choice = _choice(body, functions)
    response_format = body.get("response_format") or {"type": "text"}
    if functions and response_format["type"] != "text" and choice != "none":
        raise InvalidRequest("tools and a JSON response_format cannot be combined in one request; send one of "
                             "them.", param="response_format")
    if functions:
        return _tool_plan(functions, _allowed(body, functions), choice, body.get("parallel_tool_calls", True))
    if response_format["type"] == "json_schema":
        schema = response_format["json_schema"].get("schema") or {"type": "object"}
        if schema.get("type") == "object":
            return Plan("json", schema, RETRY_TURNS)
        return Plan("json", {"type": "object", "properties": {"value": schema}, "required": ["value"],
                             "additionalProperties": False}, RETRY_TURNS, wrapped=True)
    if response_format["type"] == "json_object":
        return Plan("json", {"type": "object"}, RETRY_TURNS)
    return None


def _functions(body):
    tools = body.get("tools") or [{"type": "function", "function": f} for f in body.get("functions") or ()]
    for number, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise InvalidRequest(f"Tools of type {tool.get('type')!r} are not supported; send function tools.",
                                 param=f"tools[{number}]")
    return {t["function"]["name"]: t["function"] for t in tools}


def _choice(body, functions):
    """Return "none", "auto", "required" or the one function name the model must call."""
    choice = body.get("tool_choice", body.get("function_call"))
    if choice is None:
        return "auto" if functions else "none"
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "allowed_tools":
        return choice["allowed_tools"]["mode"]
    name = (choice.get("function") or {}).get("name") or choice.get("name")
    if name not in functions:
        raise InvalidRequest(f"tool_choice names the function {name!r}, which is not in tools.", param="tool_choice")
    return name


def _allowed(body, functions):
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        names = {(t.get("function") or {}).get("name") for t in choice["allowed_tools"]["tools"]}
        return {n: f for n, f in functions.items() if n in names}
    return functions


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


def call_block(tool_calls, ident):
    """Return an assistant's earlier tool_calls as the StructuredOutput tool_use they answer to."""
    calls = []
    for call in tool_calls:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = function.get("arguments")
        calls.append({"name": function.get("name"), "arguments": arguments})
    return {"type": "tool_use", "id": ident, "name": STRUCTURED_TOOL, "input": {"tool_calls": calls}}


def result_block(results, ident):
    """Return the tool messages answering one tool_use as its tool_result: [{name, content}] in call order."""
    return {"type": "tool_result", "tool_use_id": ident, "content": json.dumps(results, ensure_ascii=False)}


def to_tool_calls(structured, new_id):
    """Return OpenAI tool_calls for an accepted {"tool_calls": [...]} input."""
    return [{"id": new_id(), "type": "function",
             "function": {"name": call["name"], "arguments": json.dumps(call["arguments"], ensure_ascii=False)}}
            for call in (structured or {}).get("tool_calls") or ()]


def to_content(structured, plan):
    """Return the JSON text of an accepted json answer."""
    value = structured["value"] if plan.wrapped else structured
    return json.dumps(value, ensure_ascii=False)
