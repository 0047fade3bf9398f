"""Turn an OpenAI chat request into what one CLI run is asked (pure: data in, data out).

The conversation reaches the model as real turns: everything before the final user turn becomes a
transcript given to `--resume`, and the final user turn is the prompt on stdin (as text, or as a
stream-json user message when it holds images).
"""
from __future__ import annotations

import datetime
import json
import re

from . import tools
from .cli import CliInput
from .errors import InvalidRequest

# OpenAI's reasoning_effort values, as the CLI's --effort levels.
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}
TRANSCRIPT_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$", re.DOTALL)
# Function results at the end of a conversation stay in the transcript; the CLI needs a prompt
# after them (and puts "No response requested." before it): the user's text, or this.
AFTER_RESULTS = "The function results are above. Continue."
MAX_SCHEMA_BYTES = 120_000  # an argv element stops at 131,072 bytes


def to_cli_input(body, settings):
    """Return (CliInput, tools.Plan or None) for a validated chat request, or raise InvalidRequest."""
    refuse_unsupported(body)
    plan = tools.plan(body)
    structured = plan is not None and plan.kind == "tools" and plan.schema is not None
    system, turns = split_messages(body["messages"], structured)
    if not turns or turns[-1][0] != "user":
        raise InvalidRequest(
            "The last message must be a user or tool message: the model answers the conversation's final "
            "user turn.", param="messages")
    results = [b for b in turns[-1][1] if b["type"] == "tool_result"]
    prompt_blocks = [b for b in turns[-1][1] if b["type"] != "tool_result"]
    history = turns[:-1] + ([("user", results)] if results else [])
    prompt_blocks = prompt_blocks or [_text_block(AFTER_RESULTS)]
    if settings.history == "flatten" and history:
        text = flatten(history, _text(prompt_blocks))
        prompt_blocks, history = [_text_block(text)] + [b for b in prompt_blocks if b["type"] != "text"], []
    texts = [b["text"] for b in prompt_blocks if b["type"] == "text"]
    if plan and plan.system:
        system.append(plan.system)
    effort = body.get("reasoning_effort")
    cli_input = CliInput(
        prompt="\n\n".join(texts),
        model=body.get("model") or settings.model,
        system_prompt="\n\n".join(system) or None,
        history=tuple(transcript(history)),
        effort=EFFORTS[effort] if effort else settings.effort,
        max_output_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        input_blocks=tuple(prompt_blocks) if len(texts) != len(prompt_blocks) else None,
        json_schema=_schema_argument(plan),
        max_turns=plan.max_turns if plan else 1,
    )
    return cli_input, plan


def _schema_argument(plan):
    """Return the --json-schema value: the CLI takes it only inline, on argv, bounded at 128 KiB."""
    if not plan or not plan.schema:
        return None
    text = json.dumps(plan.schema, ensure_ascii=False)
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise InvalidRequest(f"The tools' parameter schemas (or the response_format schema) take {len(text.encode())} "
                             f"bytes; the Claude CLI accepts at most {MAX_SCHEMA_BYTES}.",
                             param="tools" if plan.kind == "tools" else "response_format")
    return text


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
    blocks = blocks_of(message.get("content"), last) if message["role"] == "user" else []
    if message["role"] == "user" and not _text(blocks).strip() and not any(b["type"] == "image" for b in blocks):
        raise InvalidRequest("The last user message has no text.", param=f"messages[{last}].content")


def split_messages(messages, structured=False):
    """Return (system texts, [(role, [block, ...]), ...]) with neighbouring same-role turns merged.

    With structured, earlier tool calls and results become StructuredOutput tool_use and
    tool_result blocks; without, the Messages API would refuse such blocks (no tools are
    defined), so they reach the model as text.
    """
    system, turns, pending = [], [], None  # pending: [tool_use id, results] of the last assistant's calls
    for index, message in enumerate(messages):
        role = message["role"]
        if role in ("system", "developer"):
            system.append("\n".join(b["text"] for b in blocks_of(message.get("content"), index)))
            continue
        if role in ("tool", "function") and structured and pending:
            pending[1].append({"name": _name_of(message, messages[:index]),
                               "content": _text(blocks_of(message.get("content"), index))})
            continue
        if pending:
            _add(turns, "user", [tools.result_block(pending[1], pending[0])])
            pending = None
        if role == "assistant":
            blocks = blocks_of(message.get("content"), index)
            calls = message.get("tool_calls") or ([{"function": message["function_call"]}]
                                                  if message.get("function_call") else [])
            if calls and structured:
                ident = f"toolu_history_{index:05d}"
                blocks.append(tools.call_block(calls, ident))
                pending = [ident, []]
            else:
                blocks += [_text_block(_call_text(call)) for call in calls]
            _add(turns, "assistant", blocks)
        elif role in ("tool", "function"):
            ident = message.get("tool_call_id") or message.get("name") or "call"
            _add(turns, "user", [_text_block(f"[Result of tool call {ident}]\n"
                                             + _text(blocks_of(message.get("content"), index)))])
        else:
            _add(turns, "user", blocks_of(message.get("content"), index))
    if pending:
        _add(turns, "user", [tools.result_block(pending[1], pending[0])])
    return system, turns


def _add(turns, role, blocks):
    blocks = [b for b in blocks if b["type"] != "text" or b["text"].strip()]
    if not blocks:
        return
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


def _name_of(message, earlier):
    """Return the function a tool message answers, found by its tool_call_id."""
    if message["role"] == "function":
        return message.get("name")
    for previous in reversed(earlier):
        for call in previous.get("tool_calls") or ():
            if call.get("id") == message.get("tool_call_id"):
                return (call.get("function") or {}).get("name")
    return message.get("name")


def _call_text(call):
    function = call.get("function") or call.get("custom") or {}
    arguments = function.get("arguments", function.get("input", ""))
    ident = f" (id {call['id']})" if call.get("id") else ""
    return f"[Called tool {function.get('name')}{ident} with arguments {arguments}]"


def _text_block(text):
    return {"type": "text", "text": text}


def _text(blocks):
    return "\n".join(b["text"] for b in blocks if b["type"] == "text")


def blocks_of(content, index):
    """Return a message's content (a string, null, or a list of parts) as Messages API blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_block(content)]
    blocks = []
    for number, part in enumerate(content):
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            blocks.append(_text_block(part.get("text", "")))
        elif kind == "refusal":
            blocks.append(_text_block(part.get("refusal", "")))
        elif kind == "image_url":
            blocks.append(_image_block(part["image_url"]["url"], f"messages[{index}].content[{number}]"))
        else:
            raise InvalidRequest(f"Content parts of type {kind!r} are not supported; send text or images.",
                                 param=f"messages[{index}].content[{number}]")
    return blocks


def _image_block(url, param):
    match = DATA_URL.match(url)
    if match:
        return {"type": "image", "source": {"type": "base64", "media_type": match.group(1),
                                            "data": re.sub(r"\s", "", match.group(2))}}
    if url.startswith(("http://", "https://")):
        raise InvalidRequest("Remote image URLs are not fetched by this proxy (CLAUDE_IMAGE_FETCH is off); send "
                             "the image inline as a base64 data: URL (data:image/png;base64,...).", param=param)
    raise InvalidRequest("An image_url must be a base64 data: URL of a PNG, JPEG, GIF or WebP image.", param=param)


def transcript(turns):
    """Return transcript records for --resume: chained uuids, a timestamp each."""
    records, parent = [], None
    for number, (role, blocks) in enumerate(turns):
        uuid = f"turn-{number:05d}"
        records.append({"type": role, "uuid": uuid, "parentUuid": parent, "timestamp": _timestamp(number),
                        "message": {"role": role, "content": list(blocks)}})
        parent = uuid
    return records


def flatten(turns, prompt):
    """Return the history written into the prompt: the fallback when --resume cannot be used."""
    lines = [f"[{role}]: " + "\n\n".join(b["text"] if b["type"] == "text" else json.dumps(b) for b in blocks)
             for role, blocks in turns]
    return "<conversation_so_far>\n" + "\n\n".join(lines) + "\n</conversation_so_far>\n\n" + prompt


def _timestamp(number):
    moment = TRANSCRIPT_EPOCH + datetime.timedelta(milliseconds=number)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
