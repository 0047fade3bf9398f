"""An OpenAI chat completions request as an Ask for one CLI run (pure: data in, data out)."""
from __future__ import annotations

import json

from .. import conversation, images
from ..errors import InvalidRequest
from . import openai


def to_ask(body, settings):
    """Return the conversation.Ask for a validated chat request, or raise InvalidRequest."""
    refuse_unsupported(body)
    system, messages, remote = [], [], []
    for index, message in enumerate(body["messages"]):
        role = message["role"]
        blocks = blocks_of(message.get("content"), index, remote, settings.image_fetch)
        if role in ("system", "developer"):
            system.append("\n".join(b["text"] for b in blocks))
        elif role in ("tool", "function"):
            result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                      "content": conversation.text_of(blocks)}
            if message.get("name"):
                result["name"] = message["name"]  # legacy function messages name their function
            messages.append(("user", [result]))
        elif role == "assistant":
            calls = message.get("tool_calls") or ([{"function": message["function_call"]}]
                                                  if message.get("function_call") else [])
            messages.append(("assistant", blocks + [_call_block(call) for call in calls]))
        else:
            messages.append(("user", blocks))
    stop = body.get("stop")
    return conversation.Ask(
        system=system, messages=messages, model=body.get("model"),
        effort=openai.effort(body.get("reasoning_effort")),
        max_output_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()), plan=plan(body), remote_images=remote)


def _call_block(call):
    function = call.get("function") or call.get("custom") or {}
    arguments = function.get("arguments", function.get("input", ""))
    if call.get("type") != "custom" and "custom" not in call:
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            pass  # the model's own malformed arguments: kept as the text they were
    return {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments}


def refuse_unsupported(body):
    """Raise InvalidRequest for a field the CLI cannot honour and a client would rely on."""
    if (body.get("n") or 1) > 1:
        raise InvalidRequest("Only n=1 is supported: the Claude CLI returns one choice per request.", param="n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise InvalidRequest("logprobs are not available through the Claude CLI.", param="logprobs")
    if "audio" in (body.get("modalities") or []) or body.get("audio"):
        raise InvalidRequest("Audio output is not supported; ask for text.", param="modalities")
    last = len(body["messages"]) - 1
    message = body["messages"][last]
    blocks = blocks_of(message.get("content"), last, [], True) if message["role"] == "user" else []
    if message["role"] == "user" and not conversation.text_of(blocks).strip() and not any(
            b["type"] == "image" for b in blocks):
        raise InvalidRequest("The last user message has no text.", param=f"messages[{last}].content")


def blocks_of(content, index, remote_images, fetch_allowed):
    """Return a message's content (a string, null, or a list of parts) as Messages API blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [conversation.text_block(content)]
    blocks = []
    for number, part in enumerate(content):
        kind, param = part.get("type"), f"messages[{index}].content[{number}]"
        if kind in ("text", "input_text", "output_text"):
            blocks.append(conversation.text_block(part.get("text", "")))
        elif kind == "refusal":
            blocks.append(conversation.text_block(part.get("refusal", "")))
        elif kind == "image_url":
            blocks.append(conversation.image_block(part["image_url"]["url"], param, remote_images, fetch_allowed))
        else:
            raise InvalidRequest(f"Content parts of type {kind!r} are not supported; send text or images.",
                                 param=param)
    return blocks


def plan(body):
    """Return the tools.Plan for the request's tools or response_format, or None for plain text."""
    functions = _functions(body)
    response_format = body.get("response_format") or {"type": "text"}
    json_schema = {"json_schema": lambda: response_format["json_schema"].get("schema") or {},
                   "json_object": dict, "text": lambda: None}[response_format["type"]]()
    return openai.plan(functions, _choice(body, functions), _allowed(body), body.get("parallel_tool_calls", True),
                       json_schema, "response_format")


def _functions(body):
    declared = body.get("tools") or [{"type": "function", "function": f} for f in body.get("functions") or ()]
    for number, tool in enumerate(declared):
        if tool.get("type") != "function":
            raise InvalidRequest(f"Tools of type {tool.get('type')!r} are not supported; send function tools.",
                                 param=f"tools[{number}]")
    return {t["function"]["name"]: t["function"] for t in declared}


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


def _allowed(body):
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return {(t.get("function") or {}).get("name") for t in choice["allowed_tools"]["tools"]}
    return None


def to_cli_input(body, settings):
    """Return (CliInput, tools.Plan or None) for a validated chat request, fetching remote images if allowed."""
    ask = images.resolve(to_ask(body, settings), settings)
    return conversation.to_cli_input(ask, settings), ask.plan
