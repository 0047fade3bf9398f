"""Reduce a recording to the structure harness/diff.py compares: shapes, not values.

An event's kind is its `type` (with `subtype` for system events; with the inner event type, and
the delta or content block type, for `stream_event`); the result envelope is the kind `result`,
its subtype compared on its own. The shape of a kind is the set of key paths
its events carry, each with the JSON types seen there, e.g. `usage.cache_read_input_tokens: int`.
Keys that are model ids (as in `modelUsage`) count as one key, `<model>`.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re

from harness.record_scenarios import SCENARIOS
from proxy.answer import Answer, replay, settle
from proxy.config import Settings
from proxy.errors import ProxyError

NOT_JSON = "(not json)"
MODEL_ID = re.compile(r"^claude-[a-z0-9][a-z0-9.\-]*(\[1m\])?$")
PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)+[\w.@+-]*")  # an absolute path of two parts or more
# What differs from run to run in the CLI's stderr; replaced before stderr is compared.
VOLATILE = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?\b"), "<time>"),
    (PATH, "<path>"),
    (re.compile(r"\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-fA-F:]+\]):\d{1,5}\b"), "<host:port>"),
    (re.compile(r"\b\d+(\.\d+)?\s?m?s\b"), "<duration>"),
)


@dataclasses.dataclass
class Signature:
    """What one recording shows of the CLI's behaviour, reduced to comparable facts."""

    returncode: int
    accepted: bool  # the CLI took its argv (it printed something, ran, or was killed running)
    argv: list
    events: dict  # kind -> {key path: set of JSON types}
    result_subtypes: set
    verdict: tuple  # (status, type, code) the proxy answers with
    said: str  # the answer's text, or the error's message, stderr-normalised
    stderr: str
    requests: int
    request_paths: set
    request_shape: dict  # key path of the request bodies -> set of JSON types
    betas: set
    host_details: set  # details of the recording host (kernel release, run directory) sent upstream


def load(fixtures, version):
    """Return {scenario: recording} for one version's directory under fixtures."""
    directory = os.path.join(fixtures, f"cli-{version}")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no recordings for CLI {version}: {directory} does not exist")
    recordings = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path, encoding="utf-8") as f:
            recordings[os.path.basename(path)[:-5]] = json.load(f)
    return recordings


def signature(recording):
    """Return the Signature of one recording."""
    events = parse(recording)
    outcome, said = verdict(recording)
    bodies = [r["body"] for r in recording["upstream_requests"] if isinstance(r.get("body"), dict)]
    return Signature(
        returncode=recording["returncode"],
        accepted=bool(recording["stdout"]) or recording["returncode"] == 0 or recording.get("killed_after") is not None,
        argv=recording["argv"],
        events=shapes(events),
        result_subtypes={str(e.get("subtype")) for e in events if e and e.get("type") == "result"},
        verdict=outcome,
        said=said,
        stderr=normalise(recording["stderr"], recording.get("cli_version")),
        requests=len(recording["upstream_requests"]),
        request_paths={r["path"] for r in recording["upstream_requests"]},
        request_shape=merge(key_paths(b) for b in bodies),
        betas={b for r in recording["upstream_requests"] for b in (r.get("anthropic_beta") or "").split(",") if b},
        host_details=set(recording.get("host_details_seen") or ()),
    )


def parse(recording):
    """Return the recording's stdout lines: JSON objects as dicts, other lines as None."""
    events = []
    for entry in recording["stdout"]:
        try:
            event = json.loads(entry["line"])
        except ValueError:
            event = None
        events.append(event if isinstance(event, dict) else None)
    return events


def kind(event):
    """Return an event's kind, e.g. `system/init` or `stream_event/content_block_delta/text_delta`."""
    if event is None:
        return NOT_JSON
    name = str(event.get("type"))
    if name == "stream_event":
        inner = event.get("event") or {}
        name += f"/{inner.get('type')}"
        part = inner.get("delta") if inner.get("type") == "content_block_delta" else inner.get("content_block")
        if isinstance(part, dict) and "type" in part:
            name += f"/{part['type']}"
    elif name == "system" and "subtype" in event:
        name += f"/{event['subtype']}"
    return name


def shapes(events):
    """Return {kind: {key path: types}} over all events of each kind."""
    by_kind = {}
    for event in events:
        by_kind.setdefault(kind(event), []).append(key_paths(event) if event is not None else {})
    return {name: merge(paths) for name, paths in by_kind.items()}


def key_paths(value, path="", out=None):
    """Return {key path: set of JSON types} of a JSON value; list items share the path `name[]`."""
    out = {} if out is None else out
    if path:
        out.setdefault(path, set()).add(json_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            key = "<model>" if MODEL_ID.match(key) else key
            key_paths(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for item in value:
            key_paths(item, f"{path}[]", out)
    return out


def merge(many):
    """Return the union of several {key path: types} maps."""
    merged = {}
    for paths in many:
        for path, types in paths.items():
            merged.setdefault(path, set()).update(types)
    return merged


def json_type(value):
    """Return the JSON type name of a decoded value (int and float kept apart, bool not an int)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "object"}.get(type(value), "?")


def normalise(stderr, version=None):
    """Return stderr with ports, paths, uuids, timestamps, durations and the CLI's version blanked."""
    text = stderr.replace(version, "<version>") if version else stderr
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text.strip()


def verdict(recording):
    """Return ((status, type, code), text): the proxy's error and message, or 200, stop reason and answer.

    The recorded stdout goes through the proxy's own Answer and settle, as the run driver feeds them.
    """
    answer = Answer(recording["input"]["model"], plan=_plan(recording["scenario"]))
    other = replay(answer, [entry["line"] for entry in recording["stdout"]])
    try:
        settle(answer, recording["returncode"], recording["stderr"], other)
    except ProxyError as error:
        return (error.status, error.type, error.code), normalise(error.message, recording.get("cli_version"))
    return (200, "answer", answer.stop_reason), normalise(answer.content)


def _plan(name):
    """Return the tools plan the proxy makes for a scenario recorded from an OpenAI request, else None."""
    scenario = next((s for s in SCENARIOS if s.name == name), None)
    request = getattr(scenario, "request", None)
    if request is None:
        return None
    from proxy.api.openai_chat_input import to_cli_input  # only scenarios built from requests need it

    return to_cli_input(request, Settings())[1]
