"""Turn an OpenAI chat request into what one CLI run is asked (pure: data in, data out).

The conversation reaches the model as real turns: everything before the final user turn becomes a
transcript given to `--resume`, and the final user turn is the prompt on stdin.
"""
from __future__ import annotations

import datetime

from .cli import CliInput
from .errors import InvalidRequest

# OpenAI's reasoning_effort values, as the CLI's --effort levels.
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}
TRANSCRIPT_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def to_cli_input(body, settings):
    """Return the CliInput for a validated chat request, or raise InvalidRequest."""
    refuse_unsupported(body)
    last = len(body["messages"]) - 1
    if body["messages"][last]["role"] == "user" and not text_of(body["messages"][last].get("content"), last).strip():
        raise InvalidRequest("The last user message has no text.", param=f"messages[{last}].content")
    system, turns = split_messages(body["messages"])
    if not turns or turns[-1][0] != "user":
        raise InvalidRequest(
            "The last message must be a user or tool message: the model answers the conversation's final "
            "user turn.", param="messages")
    prompt = "\n\n".join(turns[-1][1])
    history = tuple(transcript(turns[:-1]))
    if settings.history == "flatten" and history:
        prompt, history = flatten(turns[:-1], prompt), ()
    effort = body.get("reasoning_effort")
    return CliInput(
        prompt=prompt,
        model=body["model"],
        system_prompt="\n\n".join(system) or None,
        history=history,
        effort=EFFORTS[effort] if effort else settings.effort,
        max_output_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
    )


def refuse_unsupported(body):
    """Raise InvalidRequest for a field the CLI cannot honour and a client would rely on."""
    if (body.get("n") or 1) > 1:
        raise InvalidRequest("Only n=1 is supported: the Claude CLI returns one choice per request.", param="n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise InvalidRequest("logprobs are not available through the Claude CLI.", param="logprobs")
    if "audio" in (body.get("modalities") or []) or body.get("audio"):
        raise InvalidRequest("Audio output is not supported; ask for text.", param="modalities")
    if body.get("tools") or body.get("functions"):
        raise InvalidRequest("Tool calling is not supported by this version of the proxy.", param="tools")
    if (body.get("response_format") or {}).get("type", "text") != "text":
        raise InvalidRequest("Only response_format {\"type\": \"text\"} is supported by this version of the proxy.",
                             param="response_format")


def split_messages(messages):
    """Return (system texts, [(role, [text, ...]), ...]) with neighbouring same-role turns merged."""
    system, turns = [], []
    for index, message in enumerate(messages):
        role = message["role"]
        if role in ("system", "developer"):
            system.append(text_of(message.get("content"), index))
            continue
        texts = [t for t in _turn_texts(message, index) if t.strip()]
        if not texts:
            continue
        speaker = "assistant" if role == "assistant" else "user"
        if turns and turns[-1][0] == speaker:
            turns[-1][1].extend(texts)
        else:
            turns.append((speaker, texts))
    return system, turns


def _turn_texts(message, index):
    role = message["role"]
    if role == "user":
        return [text_of(message.get("content"), index)]
    if role in ("tool", "function"):
        # No tools are offered to the model in this run, and the Messages API refuses tool_result
        # blocks without tools, so a tool's result reaches the model as text in a user turn.
        ident = message.get("tool_call_id") or message.get("name") or "call"
        return [f"[Result of tool call {ident}]\n{text_of(message.get('content'), index)}"]
    texts = [text_of(message.get("content"), index)]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or call.get("custom") or {}
        arguments = function.get("arguments", function.get("input", ""))
        texts.append(f"[Called tool {function.get('name')} (id {call.get('id')}) with arguments {arguments}]")
    if message.get("function_call"):
        call = message["function_call"]
        texts.append(f"[Called function {call.get('name')} with arguments {call.get('arguments')}]")
    return texts


def text_of(content, index):
    """Return the text of a message's content: a string, null, or a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for number, part in enumerate(content):
        if part.get("type") in ("text", "input_text", "output_text"):
            texts.append(part.get("text", ""))
        elif part.get("type") == "refusal":
            texts.append(part.get("refusal", ""))
        else:
            raise InvalidRequest(f"Content parts of type {part.get('type')!r} are not supported; send text.",
                                 param=f"messages[{index}].content[{number}]")
    return "\n".join(texts)


def transcript(turns):
    """Return transcript records for --resume: chained uuids, a timestamp each, text blocks."""
    records, parent = [], None
    for number, (role, texts) in enumerate(turns):
        uuid = f"turn-{number:05d}"
        records.append({
            "type": role, "uuid": uuid, "parentUuid": parent,
            "timestamp": _timestamp(number),
            "message": {"role": role, "content": [{"type": "text", "text": t} for t in texts]},
        })
        parent = uuid
    return records


def flatten(turns, prompt):
    """Return the history written into the prompt: the fallback when --resume cannot be used."""
    lines = [f"[{role}]: " + "\n\n".join(texts) for role, texts in turns]
    return "<conversation_so_far>\n" + "\n\n".join(lines) + "\n</conversation_so_far>\n\n" + prompt


def _timestamp(number):
    moment = TRANSCRIPT_EPOCH + datetime.timedelta(milliseconds=number)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
