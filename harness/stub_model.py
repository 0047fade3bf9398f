"""What the stub upstream answers: its Reply kinds, the named scenarios, and, when the CLI offers
its StructuredOutput tool, a value built from that tool's schema as a model would.

The tool's input_schema is the --json-schema the proxy gave the CLI; the stub answers with a value
built from it: valid, invalid, text first (valid once the CLI has asked again), or two calls.
"""
from __future__ import annotations

import dataclasses

STRUCTURED = "StructuredOutput"


def example(schema, root=None):
    """Return a value that matches a JSON Schema (the subset tool and response schemas use)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return example(node, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return example(schema[key][0], root)
    if "allOf" in schema:
        merged = {}
        for part in schema["allOf"]:
            merged.update(example(part, root))
        return merged
    kind = schema.get("type", "object" if "properties" in schema else "string")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example(properties.get(name, {}), root) for name in schema.get("required", properties)}
    if kind == "array":
        return [example(schema.get("items", {}), root) for _ in range(max(1, schema.get("minItems", 1)))]
    return {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True, "null": None}[kind]


def structured_schema(body):
    """Return the input schema of the StructuredOutput tool the request offers, or None."""
    return next((t.get("input_schema") for t in body.get("tools", ()) if t.get("name") == STRUCTURED), None)


def _refused_before(body):
    """True when the CLI has already sent back a refusal of the model's structured output."""
    return any(b.get("type") == "tool_result" and b.get("is_error") or "structured-output-enforce" in b.get("text", "")
               for m in body.get("messages", ()) if m.get("role") == "user" and isinstance(m.get("content"), list)
               for b in m["content"])


def structured(body, variant="valid"):
    """Reply with StructuredOutput input: valid, invalid, text first (then valid), or two calls."""
    schema = structured_schema(body)
    if schema is None:
        return Reply()
    if variant == "invalid" or (variant == "invalid_first" and not _refused_before(body)):
        return Reply(kind="tool_use", text="", tool_calls=[(STRUCTURED, {"unexpected": True})])
    if variant == "text_first" and not _refused_before(body):
        return Reply(text="I will not use the tool.")
    value = example(schema)
    if variant == "parallel" and "tool_calls" in value:
        branches = schema["properties"]["tool_calls"]["items"]["anyOf"]
        value["tool_calls"] = [example(branch, schema) for branch in (branches * 2)[:2]]
    text = "Let me check." if "tool_calls" in value else ""
    return Reply(kind="tool_use", text=text, tool_calls=[(STRUCTURED, value)])


DEFAULT_TEXT = "Hello! How can I help you today?"


@dataclasses.dataclass
class Reply:
    """What the stub answers to one request."""

    kind: str = "text"  # text | tool_use | error | hang | stall | drop | stream_error | max_tokens
    text: str = DEFAULT_TEXT
    chunks: int = 4  # text deltas the text is split into
    delay: float = 0.0  # seconds before each delta
    thinking: str = ""  # streamed as a thinking block before the text
    tool_calls: list = dataclasses.field(default_factory=list)  # [(name, input dict)]
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict = dataclasses.field(default_factory=dict)
    usage: dict = dataclasses.field(default_factory=dict)  # overrides of the usage counts


def _error(status, error_type, message, **headers):
    return Reply(kind="error", status=status, error_type=error_type, message=message, headers=headers)


SCENARIOS = {
    "success": Reply(),
    "slow": Reply(text="one two three four five six", chunks=6, delay=0.3),
    "thinking": Reply(thinking="Let me think about that.", text="The answer is 4."),
    "cached": Reply(usage={"cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}),
    "max_tokens": Reply(kind="max_tokens", text="This answer is cut"),
    "rate_limit": _error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", **{"retry-after": "7"}),
    "overloaded": _error(529, "overloaded_error", "Overloaded"),
    "server_error": _error(500, "api_error", "Internal server error"),
    "auth": _error(401, "authentication_error", "invalid x-api-key"),
    "forbidden": _error(403, "permission_error", "Your credit balance is too low to access the Anthropic API."),
    "not_found": _error(404, "not_found_error", "model: no-such-model"),
    "prompt_too_long": _error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"),
    "bad_request": _error(400, "invalid_request_error", "messages.0.content: bad content"),
    "drop": Reply(kind="drop"),
    "hang": Reply(kind="hang"),
    "stall": Reply(kind="stall"),
    "stream_error": Reply(kind="stream_error", text="Partial answer that", chunks=2),
    "tool_call": Reply(kind="tool_use", text="", tool_calls=[("get_weather", {"city": "Paris"})]),
    # With the CLI's StructuredOutput tool offered: a reply built from its schema (harness/stub_model.py).
    "tools_call": structured,
    "tools_named": structured,
    "tools_parallel": lambda body: structured(body, "parallel"),
    "tools_invalid": lambda body: structured(body, "invalid"),
    "tools_required_retry": lambda body: structured(body, "text_first"),
    "json_schema": structured,
    "json_object": structured,
    "json_schema_retry": lambda body: structured(body, "invalid_first"),
    "json_text_first": lambda body: structured(body, "text_first"),
    "json_invalid": lambda body: structured(body, "invalid"),
}
