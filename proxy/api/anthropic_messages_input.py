"""An Anthropic Messages API request as an Ask for one CLI run (pure: data in, data out).

The Messages API's blocks are already the conversation's terms; each is copied with only the keys
the core knows (clients echo blocks back with keys of their own, such as `cache_control` or
`caller`), and what the CLI cannot carry is refused with a 400 naming the field.
"""
from __future__ import annotations

import re

from .. import conversation, images, tools
from ..errors import InvalidRequest

PARAMS = {"messages": "messages", "tools": "tools", "format": "output_config.format"}
CHOICES = {"auto": "auto", "any": "required", "none": "none"}  # tool_choice type -> tools.Plan choice
# The model's earlier thinking is left out of the history: its signature binds it to the upstream
# call that produced it, which the CLI cannot replay.
DROPPED = ("thinking", "redacted_thinking")
# Claude Code's first system block; the CLI sends its own, so the client's is left out.
BILLING_HEADER = "x-anthropic-billing-header:"


def to_ask(body, settings):
    """Return the conversation.Ask for a validated Messages API request, or raise InvalidRequest."""
    refuse_unsupported(body)
    system, messages, remote, effort = system_texts(body.get("system")), [], [], None
    for index, message in enumerate(body["messages"]):
        if message["role"] == "system":
            # Mid-conversation system messages (Claude Code's environment, its notes on a truncated
            # tool result) join the system prompt, in order; their per-turn effort applies.
            system += system_texts(message["content"])
            effort = (message.get("output_config") or {}).get("effort") or effort
            continue
        blocks = blocks_of(message["content"], f"messages[{index}].content", remote, settings.image_fetch)
        messages.append((message["role"], blocks))
    output_config = body.get("output_config") or {}
    return conversation.Ask(
        system=system, messages=messages, model=body["model"], effort=output_config.get("effort") or effort,
        max_output_tokens=body["max_tokens"], stop=tuple(body.get("stop_sequences") or ()), plan=plan(body),
        thinking=body.get("thinking"), params=dict(PARAMS), remote_images=remote)


def refuse_unsupported(body):
    """Raise InvalidRequest for what the CLI cannot honour (server tools are refused with the tools)."""
    if body.get("mcp_servers"):
        raise InvalidRequest("MCP servers are not supported: through the Claude CLI the model can call only the "
                             "client's own tools.", param="mcp_servers")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and thinking["budget_tokens"] >= body["max_tokens"]:
        raise InvalidRequest("max_tokens must be greater than thinking.budget_tokens.", param="thinking.budget_tokens")


def system_texts(system):
    """Return the texts of a `system` field or a system message: a string or text blocks."""
    texts = [system] if isinstance(system, str) else [b["text"] for b in system or ()]
    return [t for t in texts if t.strip() and not t.startswith(BILLING_HEADER)]


def blocks_of(content, param, remote_images, fetch_allowed):
    """Return a message's content (a string or blocks) as the core's blocks."""
    if isinstance(content, str):
        return [conversation.text_block(content)]
    blocks = []
    for number, block in enumerate(content):
        kind, where = block["type"], f"{param}[{number}]"
        if kind in DROPPED:
            continue
        if kind not in BLOCKS:
            raise InvalidRequest(f"Content blocks of type {kind!r} are not supported; send text, image, tool_use "
                                 "and tool_result blocks.", param=where)
        blocks.append(BLOCKS[kind](block, where, remote_images, fetch_allowed))
    return blocks


def _text(block, *_):
    return conversation.text_block(block["text"])


def _image(block, param, remote_images, fetch_allowed):
    source = block["source"]
    if source["type"] == "base64":
        return {"type": "image", "source": {"type": "base64", "media_type": source["media_type"],
                                            "data": re.sub(r"\s", "", source["data"])}}
    if not fetch_allowed:
        raise InvalidRequest("Image URLs are not fetched by this proxy (CLAUDE_IMAGE_FETCH is off); send the image "
                             "as a base64 source.", param=f"{param}.source")
    image = {"type": "image", "source": {"type": "url", "url": source["url"]}}
    remote_images.append((image, f"{param}.source"))
    return image


def _tool_use(block, *_):
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": block["input"]}


def _tool_result(block, param, *_):
    content = block.get("content") or ""
    if not isinstance(content, str):
        content = [_result_part(part, f"{param}.content[{number}]") for number, part in enumerate(content)]
    return {"type": "tool_result", "tool_use_id": block["tool_use_id"], "content": content,
            "is_error": bool(block.get("is_error"))}


def _result_part(part, param):
    if part["type"] == "text":
        return conversation.text_block(part["text"])
    if part["type"] == "tool_reference":
        # A tool search's answer (Claude Code's ToolSearch): every tool is offered to the model already.
        return conversation.text_block(f"[The tool {part.get('tool_name')} can be called.]")
    raise InvalidRequest(f"A tool_result can carry text only through this proxy, not {part['type']!r} blocks.",
                         param=param)


BLOCKS = {"text": _text, "image": _image, "tool_use": _tool_use, "tool_result": _tool_result}


def plan(body):
    """Return the tools.Plan for the request's tools or output format, or None for plain text."""
    functions = _functions(body.get("tools") or ())
    choice = body.get("tool_choice") or {"type": "auto" if functions else "none"}
    name = CHOICES.get(choice["type"], choice.get("name"))
    if choice["type"] == "tool" and name not in functions:
        raise InvalidRequest(f"tool_choice names the tool {name!r}, which is not in tools.", param="tool_choice.name")
    output_format = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if output_format and functions and name != "none":
        raise InvalidRequest("tools and a JSON output format cannot be combined in one request through this proxy; "
                             "send one of them.", param=PARAMS["format"])
    if functions:
        return tools.plan_tools(functions, name, parallel=not choice.get("disable_parallel_tool_use"))
    if output_format:
        return tools.plan_json(output_format["schema"])
    return None


def _functions(declared):
    """Return the client's tools as {name: {"name", "description", "parameters"}}; server tools are refused."""
    functions = {}
    for number, tool in enumerate(declared):
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest(f"Server tools such as {tool['type']!r} are not supported: through the Claude CLI the "
                                 "model can call only the client's own tools (name, description, input_schema).",
                                 param=f"tools[{number}]")
        schema = {k: v for k, v in tool["input_schema"].items() if k != "$schema"}  # valid only at a root
        functions[tool["name"]] = {"name": tool["name"], "description": tool.get("description"), "parameters": schema}
    return functions


def to_cli_input(body, settings):
    """Return (CliInput, tools.Plan or None) for a validated request, fetching image URLs if allowed."""
    ask = images.resolve(to_ask(body, settings), settings)
    return conversation.to_cli_input(ask, settings), ask.plan
