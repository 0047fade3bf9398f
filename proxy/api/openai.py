"""What the OpenAI front doors share: the error envelope, the Bearer key, reasoning effort, call ids,
function arguments and token counts."""
from __future__ import annotations

import json
import uuid

from .. import tools
from ..errors import InvalidRequest
from ..http import json_response

# OpenAI's reasoning effort values, as the CLI's --effort levels.
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh", "max": "max"}
UNAUTHORIZED = ("Incorrect API key provided. Send the proxy's key (PROXY_API_KEY) as "
                "'Authorization: Bearer <key>'.")


def envelope(error):
    """Return {"error": {"message", "type", "param", "code"}} for a ProxyError."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def error_response(error):
    return json_response(envelope(error), error.status, error.headers)


def bearer(headers):
    """Return the token of an `Authorization: Bearer <token>` header, or ""."""
    header = headers.get("Authorization", "")
    return header[7:] if header[:7].lower() == "bearer " else ""


def effort(value):
    return EFFORTS[value] if value else None


def new_call_id():
    return "call_" + uuid.uuid4().hex[:24]


def arguments_text(call):
    """Return an accepted call's arguments as the JSON text OpenAI clients parse."""
    return json.dumps(call["arguments"], ensure_ascii=False)


def token_counts(answer):
    """Return the answer's tokens as OpenAI bills them: input counts cache reads and writes.

    Keys: input, cached (reads), cache_write, output, reasoning.
    """
    counts = answer.counts()
    cached, written = counts["cache_read_input_tokens"], counts["cache_creation_input_tokens"]
    return {"input": counts["input_tokens"] + written + cached, "cached": cached, "cache_write": written,
            "output": counts["output_tokens"], "reasoning": counts["thinking_tokens"]}


def plan(functions, choice, allowed, parallel, json_schema, format_param):
    """Return the tools.Plan for a request's functions or JSON answer, or None for plain text.

    functions maps names to {"name", "description", "parameters"}; choice is "none", "auto",
    "required" or a function's name; json_schema is None for text, else the answer's schema
    ({} for any JSON object).
    """
    if functions and json_schema is not None and choice != "none":
        raise InvalidRequest("tools and a JSON response format cannot be combined in one request; send one of "
                             "them.", param=format_param)
    if functions:
        return tools.plan_tools(functions, choice, allowed, parallel)
    if json_schema is not None:
        return tools.plan_json(json_schema or None)
    return None
