"""An OpenAI Responses request as an Ask for one CLI run (pure: data in, data out).

`items(body)` gives the request's input as items that each have a type and an id: the form the
store keeps and `input_items` lists. `to_ask` makes the Ask of a conversation of such items: a
previous response's (its context and output), then the request's own.
"""
from __future__ import annotations

import json
import uuid

from .. import conversation, images
from ..errors import InvalidRequest
from . import openai

PARAMS = {"messages": "input"}
CLIENT_TOOLS = ("function", "custom")  # tools the client runs; the others run on OpenAI's servers
REFUSED = (  # (field, when the client relies on it, why it is refused)
    ("background", lambda v: v is True, "Background responses are not supported; wait for the answer or stream it."),
    ("conversation", lambda v: v is not None, "The Conversations API is not served here; continue a conversation "
                                              "with previous_response_id, or send the whole input."),
    ("prompt", lambda v: v is not None, "Prompt templates are not served here; send instructions and input."),
    ("top_logprobs", bool, "Log probabilities are not available through the Claude CLI."),
)
REFUSED_ITEMS = {"item_reference": "Item references are not supported; send the items themselves, or continue "
                                   "with previous_response_id."}
OUTPUT_PART = {"annotations": [], "logprobs": []}


def item_id(prefix):
    return f"{prefix}_{uuid.uuid4().hex}"


# --- input items, normalised ---------------------------------------------------------------------

def items(body):
    """Return the request's input as a list of items, each with its type and an id (reasoning items dropped)."""
    given = body.get("input")
    if given is None:
        return []
    if isinstance(given, str):
        given = [{"role": "user", "content": given}]
    out = []
    for index, item in enumerate(given):
        kind = item.get("type") or ("message" if "role" in item else "item_reference")
        if kind not in NORMALISERS:
            raise InvalidRequest(REFUSED_ITEMS.get(kind, f"Input items of type {kind!r} are not supported: the "
                                 "Claude CLI runs no hosted tools. Send messages, function_call and "
                                 "function_call_output items."), param=f"input[{index}]")
        if NORMALISERS[kind]:
            out.append(NORMALISERS[kind](item))
    return out


def _message(item):
    role = item["role"]
    content = item["content"]
    text_type = "output_text" if role == "assistant" else "input_text"
    parts = [{"type": text_type, "text": content}] if isinstance(content, str) else [dict(p) for p in content]
    for part in parts:
        if role == "assistant" and part["type"] in ("input_text", "output_text"):
            part.update({**OUTPUT_PART, **part, "type": "output_text"})
        elif part["type"] == "input_image":
            part.setdefault("detail", "auto")
    return {"type": "message", "id": item.get("id") or item_id("msg"), "role": role, "status": "completed",
            "content": parts}


def _call(prefix, *fields, status=True):
    def normalise(item):
        normal = {"type": item["type"], "id": item.get("id") or item_id(prefix), **{f: item[f] for f in fields}}
        return normal | ({"status": "completed"} if status else {})
    return normalise


NORMALISERS = {  # None: accepted and dropped (earlier reasoning never reaches the model as text)
    "message": _message,
    "function_call": _call("fc", "call_id", "name", "arguments"),
    "function_call_output": _call("fco", "call_id", "output"),
    "custom_tool_call": _call("ctc", "call_id", "name", "input", status=False),
    "custom_tool_call_output": _call("ctco", "call_id", "output", status=False),
    "reasoning": None,
}


# --- the Ask -------------------------------------------------------------------------------------

def to_cli_input(body, settings):
    """Return (CliInput, tools.Plan or None) for a validated request, fetching remote images if allowed."""
    ask = images.resolve(to_ask(body, items(body), 0, settings), settings)
    return conversation.to_cli_input(ask, settings), ask.plan


def to_ask(body, context, earlier, settings):
    """Return the conversation.Ask for a validated request, or raise InvalidRequest.

    context is the conversation's items: the first `earlier` of them come from previous_response_id,
    the rest are the request's own (items(body)).
    """
    refuse_unsupported(body)
    system = [body["instructions"]] if body.get("instructions") else []
    messages, remote = [], []
    for number, item in enumerate(context):
        param = f"input[{number - earlier}]" if number >= earlier else None  # None: from previous_response_id
        kind = item["type"]
        if kind == "message":
            blocks = blocks_of(item["content"], param and f"{param}.content", remote, settings.image_fetch)
            if item["role"] in ("system", "developer"):
                system.append(conversation.text_of(blocks))
            else:
                messages.append((item["role"], blocks))
        elif kind in ("function_call", "custom_tool_call"):
            messages.append(("assistant", [_call_block(item)]))
        else:
            messages.append(("user", [{"type": "tool_result", "tool_use_id": item["call_id"],
                                       "content": _output_text(item["output"], param and f"{param}.output")}]))
    _refuse_empty_prompt(context[earlier:])
    return conversation.Ask(system=system, messages=messages, model=body.get("model"),
                            effort=openai.effort((body.get("reasoning") or {}).get("effort")),
                            max_output_tokens=body.get("max_output_tokens"), plan=plan(body), params=dict(PARAMS),
                            remote_images=remote)


def refuse_unsupported(body):
    """Raise InvalidRequest for a field the CLI cannot honour and a client would rely on."""
    for field, relied_on, why in REFUSED:
        if relied_on(body.get(field)):
            raise InvalidRequest(why, param=field)


def _refuse_empty_prompt(mine):
    last = mine[-1] if mine else None
    if last and last["type"] == "message" and last["role"] == "user" and not any(
            p.get("text", "").strip() or p["type"] == "input_image" for p in last["content"]):
        raise InvalidRequest("The last user message has no text.", param=f"input[{len(mine) - 1}].content")


def _call_block(item):
    if item["type"] == "custom_tool_call":
        arguments = {"input": item["input"]}
    else:
        try:
            arguments = json.loads(item["arguments"] or "{}")
        except ValueError:
            arguments = item["arguments"]  # the model's own malformed arguments: kept as the text they were
    return {"type": "tool_use", "id": item["call_id"], "name": item["name"], "input": arguments}


def _output_text(output, param):
    if isinstance(output, str):
        return output
    for number, part in enumerate(output):
        if part.get("type") != "input_text":
            raise InvalidRequest(f"Function outputs of type {part.get('type')!r} are not supported; send text.",
                                 param=_where(param, number))
    return "\n".join(part["text"] for part in output)


def blocks_of(parts, param, remote_images, fetch_allowed):
    """Return a message's content parts as Messages API blocks (param None: they came from a stored response)."""
    blocks = []
    for number, part in enumerate(parts):
        kind, where = part["type"], _where(param, number)
        if kind in ("input_text", "output_text"):
            blocks.append(conversation.text_block(part["text"]))
        elif kind == "refusal":
            blocks.append(conversation.text_block(part["refusal"]))
        elif kind == "input_image" and part.get("image_url"):
            blocks.append(conversation.image_block(part["image_url"], where, remote_images, fetch_allowed))
        else:
            raise InvalidRequest(f"Content parts of type {kind!r} are not supported (nor images by file_id); send "
                                 "text, or images as base64 data: URLs.", param=where)
    return blocks


def _where(param, number):
    return f"{param}[{number}]" if param else "previous_response_id"


# --- tools and text.format -----------------------------------------------------------------------

def plan(body):
    """Return the tools.Plan for the request's tools or text.format, or None for plain text."""
    functions = _functions(body)
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    json_schema = {"json_schema": lambda: text_format.get("schema") or {}, "json_object": dict,
                   "text": lambda: None}[text_format["type"]]()
    return openai.plan(functions, _choice(body, functions), _allowed(body), body.get("parallel_tool_calls", True),
                       json_schema, "text.format")


def custom_names(body):
    """Return the names of the request's custom (freeform) tools: their calls carry text, not JSON."""
    return {tool["name"] for tool in body.get("tools") or () if tool.get("type") == "custom"}


def _functions(body):
    """Return the client's tools as functions; a custom tool is a function whose one argument is its text.

    Tools that run on OpenAI's servers are ignored beside the client's own (agents such as Codex
    offer web search in every request); offered alone, the client relies on them: a 400.
    """
    declared = body.get("tools") or ()
    functions = {t["name"]: _as_function(t) for t in declared if t.get("type") in CLIENT_TOOLS}
    hosted = [n for n, t in enumerate(declared) if t.get("type") not in CLIENT_TOOLS]
    if hosted and not functions:
        kind = declared[hosted[0]].get("type")
        raise InvalidRequest(f"Tools of type {kind!r} run on OpenAI's servers; the Claude CLI cannot run them. "
                             "Offer function or custom tools.", param=f"tools[{hosted[0]}]")
    return functions


def _as_function(tool):
    if tool["type"] == "function":
        return {"name": tool["name"], "description": tool.get("description"), "parameters": tool.get("parameters")}
    text = {"type": "string", "description": "The tool's input, as free text (not JSON)."}
    grammar = (tool.get("format") or {}).get("definition")
    if grammar:
        text["description"] += f" It must follow this {tool['format'].get('syntax')} grammar:\n{grammar}"
    return {"name": tool["name"], "description": tool.get("description"),
            "parameters": {"type": "object", "properties": {"input": text}, "required": ["input"],
                           "additionalProperties": False}}


def _choice(body, functions):
    """Return "none", "auto", "required" or the one function name the model must call."""
    choice = body.get("tool_choice")
    if choice is None:
        return "auto" if functions else "none"
    if isinstance(choice, str):
        return choice
    if choice["type"] == "allowed_tools":
        return choice["mode"]
    if choice["type"] not in CLIENT_TOOLS:
        raise InvalidRequest(f"tool_choice forces a {choice['type']!r} tool, which runs on OpenAI's servers; the "
                             "Claude CLI cannot run it.", param="tool_choice")
    if choice.get("name") not in functions:
        raise InvalidRequest(f"tool_choice names the tool {choice.get('name')!r}, which is not in tools.",
                             param="tool_choice")
    return choice["name"]


def _allowed(body):
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice["type"] == "allowed_tools":
        return {tool.get("name") for tool in choice["tools"]}
    return None
