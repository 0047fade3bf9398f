"""Compare two CLI versions' recordings structurally, and say whether the proxy still holds.

Usage: python -m harness.diff OLD NEW [--json] [--fixtures DIR]

Per scenario: fields added, removed or changed in type in each event kind and the result
envelope, event kinds that appeared or vanished, exit codes, the proxy's classification of the
run, stderr (ports, paths, uuids and times blanked), whether the CLI accepted its argv, and the
number and shape of the upstream requests. Timings are not compared; the report ends by saying
how busy the machine was when each version was recorded (harness/machine.py). Exits 1 when a difference breaks what the proxy relies
on (BREAKS and RELIED below), 0 when every difference is informational.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from harness import machine, twins
from harness.install_cli import REPO
from harness.record_scenarios import WARM_TWINS
from harness.signature import load, signature

# What the proxy reads from the CLI's stream-json (proxy/answer.py, proxy/failures.py), as
# (event kind, key path); a None path means the event itself. Losing one of these, or one of
# them taking a type it never had, breaks the proxy. (result.api_error_type is read too, but only as
# a second sign beside api_error_status: a run it would classify differently is a "classification"
# change, which always breaks; 2.1.323 and older do not send it.)
RELIED = (
    ("system/init", "model"),
    ("stream_event/message_start", None),
    ("stream_event/message_start", "event.message.model"),
    ("stream_event/message_start", "event.message.usage.input_tokens"),
    ("stream_event/message_start", "event.message.usage.output_tokens"),
    ("stream_event/message_start", "event.message.usage.cache_read_input_tokens"),
    ("stream_event/message_start", "event.message.usage.cache_creation_input_tokens"),
    ("stream_event/content_block_delta/text_delta", None),
    ("stream_event/content_block_delta/text_delta", "event.delta.text"),
    ("stream_event/content_block_delta/thinking_delta", None),
    ("stream_event/content_block_delta/thinking_delta", "event.delta.thinking"),
    ("stream_event/message_delta", None),
    ("stream_event/message_delta", "event.delta.stop_reason"),
    ("stream_event/message_delta", "event.usage.output_tokens"),
    ("stream_event/message_stop", None),
    ("assistant", "is_api_error_message"),
    ("assistant", "error"),
    ("assistant", "message.content[].type"),
    ("assistant", "message.content[].name"),
    ("user", "message.content[].type"),
    ("user", "message.content[].is_error"),
    ("user", "message.content[].content"),
    ("result", None),
    ("result", "is_error"),
    ("result", "subtype"),
    ("result", "result"),
    ("result", "errors"),
    ("result", "api_error_status"),
    ("result", "terminal_reason"),
    ("result", "total_cost_usd"),
    ("result", "structured_output"),
    ("result", "usage.input_tokens"),
    ("result", "usage.output_tokens"),
    ("result", "usage.cache_read_input_tokens"),
    ("result", "usage.cache_creation_input_tokens"),
    ("result", "usage.output_tokens_details.thinking_tokens"),
)
# Which kinds of difference break the proxy: always, or only when RELIED names what changed.
# Every other kind (new fields, events or scenarios, stderr, fewer requests, request shape,
# betas, result subtypes, a differently recorded argv) is informational.
BREAKS = {
    "scenario vanished": "always",
    "exit code": "always",
    "classification": "always",
    "argv rejected": "always",
    "more upstream requests": "always",
    "host details reach the model": "always",
    "warm request differs": "always",
    "event vanished": "relied",
    "field removed": "relied",
    "field type": "relied",
}


# Warm scenarios (the CLI started ahead of its request) each repeat a cold scenario, and the model
# must be sent the same either way: {warm: cold twin}; compare() checks every pair in the new
# version's recordings (compare_twins).
TWINS = {f"{name}_warm": name for name in WARM_TWINS}


@dataclasses.dataclass(frozen=True)
class Change:
    scenario: str
    kind: str
    message: str
    breaks: bool = False


def compare(old, new):
    """Return the Changes between two {scenario: recording} maps."""
    changes = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            changes.append(_change(name, "scenario vanished", "no recording for the new version"))
        elif name not in old:
            changes.append(_change(name, "scenario added", "no recording for the old version to compare with"))
        else:
            changes += compare_scenario(name, signature(old[name]), signature(new[name]))
    for warm, cold in sorted(TWINS.items()):
        # A twin recorded before and missing now is a vanished scenario, reported above.
        if warm in new and cold in new:
            changes += compare_twins(warm, new[warm], cold, new[cold])
    return changes


def compare_twins(warm_name, warm, cold_name, cold):
    """Return a Change for each upstream request where a warm recording's differs from its cold twin's.

    Compared whole, values and all, but for what is another run's own: the session id (in the
    x-claude-code-session-id header and in metadata.user_id) and absolute paths (the working directory).
    """
    before, after = twins.upstream_requests(cold), twins.upstream_requests(warm)
    if len(before) != len(after):
        return [_change(warm_name, "warm request differs",
                        f"{len(after)} upstream requests where the cold twin {cold_name} made {len(before)}")]
    out = []
    for number, (a, b) in enumerate(zip(before, after), 1):
        where = twins.first_difference(a, b)
        if where is not None:
            path, x, y = where
            out.append(_change(warm_name, "warm request differs",
                               f"request {number}: {path or '(whole)'}: {_show(x)} -> {_show(y)} "
                               f"(cold twin: {cold_name})"))
    return out


def compare_scenario(name, a, b):
    """Return the Changes between two Signatures of one scenario."""
    out = []
    facts = (("exit code", a.returncode, b.returncode), ("classification", _verdict(a), _verdict(b)),
             ("proxy's text", a.said, b.said),
             ("result subtype", sorted(a.result_subtypes), sorted(b.result_subtypes)),
             ("argv recorded", a.argv, b.argv), ("stderr", a.stderr, b.stderr),
             ("upstream request paths", sorted(a.request_paths), sorted(b.request_paths)))
    for kind, before, after in facts:
        if before != after:
            out.append(_change(name, kind, f"{_show(before)} -> {_show(after)}"))
    if a.accepted != b.accepted:
        out.append(_change(name, "argv rejected" if a.accepted else "argv accepted",
                           "the CLI " + ("now rejects" if a.accepted else "now accepts") + " the argv"))
    if a.requests != b.requests:
        out.append(_change(name, "more upstream requests" if b.requests > a.requests else "fewer upstream requests",
                           f"{a.requests} -> {b.requests}"))
    for kind in sorted(set(a.events) - set(b.events)):
        out.append(_change(name, "event vanished", kind, relied=(kind, None) in RELIED))
    for kind in sorted(set(b.events) - set(a.events)):
        out.append(_change(name, "event added", kind))
    for kind in sorted(set(a.events) & set(b.events)):
        out += _fields(name, kind, a.events[kind], b.events[kind])
    out += _fields(name, "upstream request", a.request_shape, b.request_shape)
    for detail in sorted(b.host_details - a.host_details):
        out.append(_change(name, "host details reach the model", f"the upstream request carries the host's {detail}"))
    for beta in sorted(a.betas ^ b.betas):
        out.append(_change(name, "beta " + ("added" if beta in b.betas else "removed"), beta))
    return out


def _fields(name, kind, old, new):
    """Return field changes of one event kind; a removed or added subtree is one change."""
    relied = {path for k, path in RELIED if k == kind}
    out = []
    for label, gone, there in (("field removed", old, new), ("field added", new, old)):
        missing = sorted(p for p in gone if p not in there)
        for path in missing:
            if _parent(path) in missing:
                continue
            under = [p for p in missing if p.startswith((path + ".", path + "[]"))]
            shown = ", ".join(f"{p}: {_types(gone[p])}" for p in [path, *under][:4])
            more = f" (and {len(under) - 3} more under it)" if len(under) > 3 else ""
            hit = label == "field removed" and bool(relied & {path, *under})
            out.append(_change(name, label, f"{kind}: {shown}{more}", relied=hit))
    for path in sorted(set(old) & set(new)):
        if _loose(old[path]) != _loose(new[path]):
            gained = bool(_loose(new[path]) - _loose(old[path]))
            out.append(_change(name, "field type", f"{kind}: {path}: {_types(old[path])} -> {_types(new[path])}",
                               relied=path in relied and gained))
    return out


def _parent(path):
    cut = max(path.rfind("."), path.rfind("[]"))
    return path[:cut] if cut > 0 else None


def _loose(types):
    # JSON has one number type: an integral value printed as 1 and a fractional one are the same field.
    return {"number" if t in ("int", "float") else t for t in types}


def _types(types):
    return "|".join(sorted(types))


def _verdict(sig):
    status, kind, code = sig.verdict
    return f"{status} {kind}" + (f"/{code}" if code else "")


def _show(value):
    plain = isinstance(value, str) and value and "\n" not in value
    text = value if plain else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."


def _change(scenario, kind, message, relied=False):
    rule = BREAKS.get(kind)
    return Change(scenario, kind, message, rule == "always" or (rule == "relied" and relied))


def report(old_version, new_version, changes, scenarios, timing=(), intro=()):
    """Return the Markdown report of the Changes between two versions.

    intro: lines to put after the verdict (the upgrade check's own section); timing: lines to end with.
    """
    broken = [c for c in changes if c.breaks]
    verdict = (f"**BREAKS the proxy**: {len(broken)} breaking difference(s)" if broken else
               "**the proxy holds**: no breaking difference")
    shared = {}
    for c in changes:
        shared.setdefault((c.kind, c.message, c.breaks), []).append(c.scenario)
    distinct = sum(1 for key in shared if not key[2])
    lines = [f"# Claude CLI {old_version} -> {new_version}", "",
             f"{verdict}; {distinct} distinct informational difference(s) ({len(changes) - len(broken)} over all "
             f"scenarios), comparing {len(scenarios)} scenarios.", "",
             "What breaks is defined in harness/diff.py: RELIED (what the proxy reads) and BREAKS (which "
             "differences fail); everything else is informational.", "", *intro]
    common = {key: names for key, names in shared.items() if len(names) > 1}
    if common:
        lines += ["## In several scenarios", ""]
        for (kind, message, breaks), names in sorted(common.items(), key=lambda i: (not i[0][2], i[0])):
            where = ", ".join(names)
            if len(names) > len(scenarios) / 2:
                rest = sorted(set(scenarios) - set(names))
                where = f"{len(names)} of {len(scenarios)} scenarios" + (f"; not {', '.join(rest)}" if rest else "")
            lines.append(f"- {_label(breaks)} {kind}: {message} ({where})")
        lines.append("")
    for name in sorted(set(scenarios) | {c.scenario for c in changes}):
        own = sorted((c for c in changes if c.scenario == name and (c.kind, c.message, c.breaks) not in common),
                     key=lambda c: not c.breaks)
        if own:
            lines += [f"## {name}", ""] + [f"- {_label(c.breaks)} {c.kind}: {c.message}" for c in own] + [""]
    if not changes:
        lines += ["No differences.", ""]
    lines += timing
    return "\n".join(lines)


def _label(breaks):
    return "**BREAKS**" if breaks else "info"


def as_json(old_version, new_version, changes):
    """Return the Changes as a JSON-ready dict, for CI."""
    return {"old": old_version, "new": new_version, "breaks": any(c.breaks for c in changes),
            "changes": [dataclasses.asdict(c) for c in changes]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the version compared against, e.g. the pinned one")
    parser.add_argument("new")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    parser.add_argument("--fixtures", default=os.path.join(REPO, "fixtures"))
    args = parser.parse_args(argv)
    try:
        old, new = load(args.fixtures, args.old), load(args.fixtures, args.new)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    changes = compare(old, new)
    if args.json:
        print(json.dumps(as_json(args.old, args.new, changes), indent=1))
    else:
        print(report(args.old, args.new, changes, set(old) | set(new), machine.timings(args.old, old, args.new, new)))
    return 1 if any(c.breaks for c in changes) else 0


if __name__ == "__main__":
    sys.exit(main())
