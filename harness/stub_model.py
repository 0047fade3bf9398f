"""How the stub upstream answers, as a model would, when the CLI offers its StructuredOutput tool.

The tool's input_schema is the --json-schema the proxy gave the CLI; the stub answers with a value
built from it: valid, invalid, text first (valid once the CLI has asked again), or two calls.
"""
from __future__ import annotations

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
    from harness.stub_upstream import Reply

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
