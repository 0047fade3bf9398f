"""A conversation as turns of Messages API blocks, and what one CLI run is asked for it.

Owned by no front door: each API's request becomes an Ask (system texts, messages of blocks in
the client's own terms, limits, the tools.Plan), and to_cli_input makes the CliInput. Pure.

The conversation reaches the model as real turns: everything before the final user turn becomes
the transcript given to `--resume`, and the final user turn (text, images, function results) is
the user message the CLI sends (command.py).
"""
from __future__ import annotations

import dataclasses
import json
import re

from . import tools
from .command import CliInput
from .errors import InvalidRequest

DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$", re.DOTALL)
PARAMS = {"messages": "messages"}


@dataclasses.dataclass
class Ask:
    """What a client asks of one run, in no API's terms.

    messages are (role, blocks) with role "user" or "assistant" and Messages API blocks: text,
    image, tool_use (id, name, input) and tool_result (tool_use_id, content as text or text
    blocks, is_error; optionally the function's name where the client gives it instead of an id).
    """

    system: list
    messages: list
    model: str | None = None
    effort: str | None = None
    max_output_tokens: int | None = None
    stop: tuple = ()
    plan: tools.Plan | None = None
    thinking: dict | None = None  # the Messages API's `thinking` config (type, budget_tokens, display)
    params: dict = dataclasses.field(default_factory=lambda: dict(PARAMS))  # the API's names, for errors
    remote_images: list = dataclasses.field(default_factory=list)  # [(image block, param)] to fetch


def text_block(text):
    return {"type": "text", "text": text}


def image_block(url, param, remote_images, fetch_allowed):
    """Return the image block of a data: URL, or of an http(s) URL the proxy may fetch (noted in remote_images)."""
    match = DATA_URL.match(url)
    if match:
        return {"type": "image", "source": {"type": "base64", "media_type": match.group(1),
                                            "data": re.sub(r"\s", "", match.group(2))}}
    if url.startswith(("http://", "https://")):
        if not fetch_allowed:
            raise InvalidRequest("Remote image URLs are not fetched by this proxy (CLAUDE_IMAGE_FETCH is off); send "
                                 "the image inline as a base64 data: URL (data:image/png;base64,...).", param=param)
        block = {"type": "image", "source": {"type": "url", "url": url}}
        remote_images.append((block, param))
        return block
    raise InvalidRequest("An image_url must be a base64 data: URL of a PNG, JPEG, GIF or WebP image.", param=param)


def text_of(blocks):
    return "\n".join(b["text"] for b in blocks if b["type"] == "text")


def to_cli_input(ask, settings):
    """Return the CliInput for an Ask, or raise InvalidRequest.

    The final user turn (text, images, or the results of the functions the model called, with any
    text after them) is the message the CLI sends; the turns before it are the history.
    """
    plan = ask.plan
    structured = plan is not None and plan.kind == "tools" and plan.schema is not None
    turns = to_turns(ask.messages, structured)
    if not turns or turns[-1][0] != "user":
        raise InvalidRequest("The conversation must end with a user turn (or function results): the model answers "
                             "the final user turn.", param=ask.params["messages"])
    history, message = turns[:-1], turns[-1][1]
    if settings.history == "flatten" and history:
        results = [b for b in message if b["type"] == "tool_result"]
        rest = [b for b in message if b["type"] != "tool_result"]
        text = flatten(history + ([("user", results)] if results else []), text_of(rest))
        history, message = [], [text_block(text)] + [b for b in rest if b["type"] == "image"]
    system = list(ask.system) + ([plan.system] if plan and plan.system else [])
    return CliInput(
        model=ask.model or settings.model,
        message=tuple(message),
        system_prompt="\n\n".join(system) or None,
        history=tuple(history),
        effort=ask.effort or settings.effort,
        max_output_tokens=ask.max_output_tokens,
        json_schema=plan.schema if plan else None,
        max_turns=plan.max_turns if plan else 1,
        thinking=ask.thinking,
    )


def follow_up(ask, settings):
    """Return the run driver's follow-up for an Ask: answer -> the next request's history (None when flattened)."""
    if settings.history != "transcript":
        return None
    return lambda answer: next_history(ask, answer)


def next_history(ask, answer):
    """Return the history the conversation's next request will have if the client sends this answer back.

    None when the answer gives nothing to send back. The next request resumes exactly this, up
    to its own new user turn (or function results); a spare started with it serves that request.
    """
    blocks = [text_block(answer.content)] if answer.content else []
    blocks += [{"type": "tool_use", "id": None, "name": call["name"], "input": call["arguments"]}
               for call in answer.tool_calls]
    if not blocks:
        return None
    structured = ask.plan is not None and ask.plan.kind == "tools" and ask.plan.schema is not None
    return tuple(to_turns(list(ask.messages) + [("assistant", blocks)], structured, answered=False))


def to_turns(messages, structured=False, answered=True):
    """Return [(role, [block, ...]), ...] for the model, with neighbouring same-role turns merged.

    With structured, an assistant's tool_use blocks become one StructuredOutput tool_use and the
    results answering them one tool_result; without, the Messages API would refuse such blocks
    (no tools are defined), so they reach the model as text. answered=False leaves the last
    assistant's calls open, as they are before the client sends their results.
    """
    turns, pending, names = [], None, {}  # pending: [tool_use id, results] of the last assistant's calls
    for index, (role, blocks) in enumerate(messages):
        results = [b for b in blocks if b["type"] == "tool_result"]
        others = [b for b in blocks if b["type"] != "tool_result"]
        for block in results:
            name = names.get(block.get("tool_use_id")) or block.get("name")
            if structured and pending:
                pending[1].append({"name": name, "content": _result_text(block),
                                   **({"is_error": True} if block.get("is_error") else {})})
            else:
                ident = block.get("tool_use_id") or name or "call"
                failed = " (failed)" if block.get("is_error") else ""
                _add(turns, "user", [text_block(f"[Result of tool call {ident}{failed}]\n{_result_text(block)}")])
        if not others and results:
            continue
        if pending:
            _add(turns, "user", [tools.result_block(pending[1], pending[0])])
            pending = None
        calls = [b for b in others if b["type"] == "tool_use"]
        kept = [b for b in others if b["type"] != "tool_use"]
        names.update((c.get("id"), c["name"]) for c in calls)
        if calls and structured:
            ident = f"toolu_history_{index:05d}"
            kept.append(tools.call_block([{"name": c["name"], "arguments": c["input"]} for c in calls], ident))
            pending = [ident, []]
        else:
            kept += [text_block(_call_text(c)) for c in calls]
        _add(turns, role, kept)
    if pending and answered:
        _add(turns, "user", [tools.result_block(pending[1], pending[0])])
    return turns


def _add(turns, role, blocks):
    blocks = [b for b in blocks if b["type"] != "text" or b["text"].strip()]
    if not blocks:
        return
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


def _result_text(block):
    content = block.get("content")
    if isinstance(content, str):
        return content
    return text_of(content or [])


def _call_text(call):
    arguments = call["input"]
    arguments = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False,
                                                                        separators=(",", ":"))
    ident = f" (id {call['id']})" if call.get("id") else ""
    return f"[Called tool {call['name']}{ident} with arguments {arguments}]"


def flatten(turns, prompt):
    """Return the history written into the prompt: the fallback when --resume cannot be used."""
    lines = [f"[{role}]: " + "\n\n".join(b["text"] if b["type"] == "text" else json.dumps(b) for b in blocks)
             for role, blocks in turns]
    return "<conversation_so_far>\n" + "\n\n".join(lines) + "\n</conversation_so_far>\n\n" + prompt
