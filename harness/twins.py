"""What a warm recording's upstream requests and its cold twin's may differ in, and where they first differ.

A warm run (the CLI started ahead of its request) must send what a cold run of the same request
sends, but for what belongs to the one run: the session id (the x-claude-code-session-id header
and the session in metadata.user_id) and absolute paths (its working directory).
"""
from __future__ import annotations

import re

from harness.signature import PATH

SESSION_HEADER = "x-claude-code-session-id"
SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # in user_id, after "session_"


def upstream_requests(recording):
    """Return a recording's upstream requests without what belongs to the one run (see compare_twins)."""
    def blank(value, key=""):
        if isinstance(value, dict):
            return {k: blank(v, k) for k, v in value.items() if k.lower() != SESSION_HEADER}
        if isinstance(value, list):
            return [blank(v) for v in value]
        if isinstance(value, str):
            value = SESSION_ID.sub("<session>", value) if key == "user_id" else value
            return PATH.sub("<path>", value)
        return value
    return [blank(r) for r in recording["upstream_requests"]]


def first_difference(a, b, path=""):
    """Return (key path, a's value, b's value) where two JSON values first differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                return where, a.get(key, "(absent)"), b.get(key, "(absent)")
            found = first_difference(a[key], b[key], where)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else (path, a, b)
