"""The structural diff reports what changed between two versions' recordings, and fails on what breaks."""
import functools
import json
import shutil

import pytest

from harness import diff
from harness.signature import key_paths, load, normalise, signature
from tests.support import FIXTURES, ROOT

SAMPLE = ("success", "rate_limit", "thinking", "not_found", "usage_error")


@pytest.fixture
def versions(tmp_path):
    """Two identical copies of some pinned recordings, as versions 1.0.0 and 1.0.1 under tmp_path."""
    for version in ("1.0.0", "1.0.1"):
        (tmp_path / f"cli-{version}").mkdir()
        for name in SAMPLE:
            shutil.copy(FIXTURES / f"{name}.json", tmp_path / f"cli-{version}" / f"{name}.json")
    return tmp_path


def rewrite(fixtures, name, change):
    """Apply change to version 1.0.1's recording of a scenario."""
    path = fixtures / "cli-1.0.1" / f"{name}.json"
    recording = json.loads(path.read_text())
    change(recording)
    path.write_text(json.dumps(recording))


def on_events(kind, change):
    """Return a recording change that applies change to each stdout event of a type."""
    def apply(recording):
        for entry in recording["stdout"]:
            if entry["line"].startswith("{") and json.loads(entry["line"]).get("type") == kind:
                event = json.loads(entry["line"])
                change(event)
                entry["line"] = json.dumps(event)
    return apply


def run(fixtures, capsys, *options):
    code = diff.main(["1.0.0", "1.0.1", "--fixtures", str(fixtures), *options])
    return code, capsys.readouterr().out


def rename(event, old, new):
    event[new] = event.pop(old)


def without_thinking(recording):
    recording["stdout"] = [e for e in recording["stdout"] if "thinking_delta" not in e["line"]]


def as_server_error(recording):
    on_events("assistant", lambda e: e.update(error="server_error"))(recording)
    on_events("result", lambda e: e.update(api_error_status=500))(recording)


def rejected(recording):
    recording.update(stdout=[], returncode=1, stderr="error: unknown option '--strict-mcp-config'\n")


EDITS = {
    "renamed api_error_status": ("rate_limit", on_events("result", lambda e: rename(e, "api_error_status", "status")),
                                 "field removed", "result: api_error_status: int"),
    "exit code": ("rate_limit", lambda r: r.update(returncode=2), "exit code", "1 -> 2"),
    "is_error as text": ("success", on_events("result", lambda e: e.update(is_error="false")),
                         "field type", "result: is_error: bool -> str"),
    "classification": ("rate_limit", as_server_error, "classification",
                       "429 rate_limit_error/rate_limit_exceeded -> 502 server_error/upstream_error"),
    "vanished event": ("thinking", without_thinking, "event vanished",
                       "stream_event/content_block_delta/thinking_delta"),
    "more requests": ("success", lambda r: r["upstream_requests"].append(r["upstream_requests"][0]),
                      "more upstream requests", "1 -> 2"),
    "argv rejected": ("success", rejected, "argv rejected", "the CLI now rejects the argv"),
}
NOTES = {
    "extra field": ("success", on_events("result", lambda e: e.update(fast_lane=True)),
                    "field added", "result: fast_lane: bool"),
    "unread field's type": ("success", on_events("result", lambda e: e.update(duration_ms="82 ms")),
                            "field type", "result: duration_ms: int -> str"),
    "new event": ("success", lambda r: r["stdout"].insert(1, {"t": 0, "line": '{"type":"system","subtype":"hooks"}'}),
                  "event added", "system/hooks"),
    "stderr": ("not_found", lambda r: r.update(stderr="[claude-code:unknown_model] no-such-model\n"), "stderr",
               "[claude-code:unrecognized_model]"),
    "fewer requests": ("not_found", lambda r: r["upstream_requests"].pop(), "fewer upstream requests", "2 -> 1"),
}


def test_identical_recordings_differ_in_nothing(versions, capsys):
    code, out = run(versions, capsys)
    assert code == 0
    assert "the proxy holds" in out and "No differences." in out


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_change_the_proxy_relies_on_is_reported_and_fails(versions, capsys, edit):
    name, change, kind, words = EDITS[edit]
    rewrite(versions, name, change)
    code, out = run(versions, capsys)
    assert code == 1
    assert "BREAKS the proxy" in out
    assert f"## {name}" in out and f"**BREAKS** {kind}: " in out and words in out


@pytest.mark.parametrize("edit", sorted(NOTES))
def test_an_informational_change_is_reported_and_passes(versions, capsys, edit):
    name, change, kind, words = NOTES[edit]
    rewrite(versions, name, change)
    code, out = run(versions, capsys)
    assert code == 0
    assert "the proxy holds" in out
    assert f"info {kind}: " in out and words in out


def test_a_vanished_scenario_fails(versions, capsys):
    (versions / "cli-1.0.1" / "thinking.json").unlink()
    code, out = run(versions, capsys)
    assert code == 1 and "**BREAKS** scenario vanished" in out


def test_json_output_lists_each_change_with_its_verdict(versions, capsys):
    rewrite(versions, "rate_limit", lambda r: r.update(returncode=2))
    rewrite(versions, "success", on_events("result", lambda e: e.update(fast_lane=True)))
    code, out = run(versions, capsys, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["old"] == "1.0.0" and report["new"] == "1.0.1" and report["breaks"] is True
    assert report["changes"] == [
        {"scenario": "rate_limit", "kind": "exit code", "message": "1 -> 2", "breaks": True},
        {"scenario": "success", "kind": "field added", "message": "result: fast_lane: bool", "breaks": False},
    ]


def test_a_change_seen_in_several_scenarios_is_listed_once(versions, capsys):
    for name in ("success", "thinking"):
        rewrite(versions, name, on_events("result", lambda e: e.update(fast_lane=True)))
    code, out = run(versions, capsys)
    assert out.count("fast_lane") == 1 and "(success, thinking)" in out


def test_an_unknown_version_is_a_usage_error(versions, capsys):
    assert diff.main(["1.0.0", "9.9.9", "--fixtures", str(versions)]) == 2
    assert "no recordings for CLI 9.9.9" in capsys.readouterr().err


def test_key_paths_keep_types_and_fold_list_items_and_model_ids():
    event = {"usage": {"cache_read_input_tokens": 0, "cost": 0.5}, "content": [{"type": "text"}, {"type": "image"}],
             "modelUsage": {"claude-haiku-5-5": {"inputTokens": 3}}, "error": None}
    assert key_paths(event) == {
        "usage": {"object"}, "usage.cache_read_input_tokens": {"int"}, "usage.cost": {"float"},
        "content": {"list"}, "content[]": {"object"}, "content[].type": {"str"},
        "modelUsage": {"object"}, "modelUsage.<model>": {"object"}, "modelUsage.<model>.inputTokens": {"int"},
        "error": {"null"}}


def test_stderr_is_compared_without_ports_paths_uuids_times_or_the_version():
    first = ("2.1.328 at 2026-11-24T04:23:01.325Z: session 58d6b1ec-9c55-4b4f-b9ed-2a05e0d564d0 "
             "in /tmp/claude-record-gnx5uauf/cwd via 127.0.0.1:41417 after 120ms")
    second = ("2.1.330 at 2026-12-01T10:00:00Z: session 11bbb3cc-d519-4fa5-a5a7-c4904a797d78 "
              "in /tmp/claude-record-abc/cwd via 127.0.0.1:5000 after 7ms")
    assert normalise(first, "2.1.328") == normalise(second, "2.1.330")


@functools.cache
def recorded_shapes():
    """{kind: key paths} over every recorded version's recordings."""
    shapes = {}
    for directory in (ROOT / "fixtures").glob("cli-*"):
        for recording in load(directory.parent, directory.name[4:]).values():
            for kind, paths in signature(recording).events.items():
                shapes.setdefault(kind, set()).update(paths)
    return shapes


@pytest.mark.parametrize("kind, path", diff.RELIED)
def test_everything_the_proxy_relies_on_is_in_some_recording(kind, path):
    assert kind in recorded_shapes() and (path is None or path in recorded_shapes()[kind]), (
        f"{kind}: {path} is in no recording: a typo in RELIED, or the proxy reads what the CLI never printed")


# --- warm scenarios and their cold twins ------------------------------------------------------------

def warm_twin(name, change=None):
    """A recording of a scenario as a warm run would make it: another session, another working directory."""
    warm = json.loads((FIXTURES / f"{name}.json").read_text())
    for request in warm["upstream_requests"]:
        request["headers"] = {"X-Claude-Code-Session-Id": "11bbb3cc-d519-4fa5-a5a7-c4904a797d78"}
        request["body"]["metadata"] = {"user_id": "user_abc_account__session_11bbb3cc-d519-4fa5-a5a7-c4904a797d78"}
        text = json.dumps(request["body"])
        request["body"] = json.loads(text.replace("/tmp/claude-record-", "/var/tmp/claude-warm-"))
    if change:
        change(warm)
    return warm


def cold_twin(name):
    cold = json.loads((FIXTURES / f"{name}.json").read_text())
    for request in cold["upstream_requests"]:
        request["headers"] = {"x-claude-code-session-id": "58d6b1ec-9c55-4b4f-b9ed-2a05e0d564d0"}
        request["body"]["metadata"] = {"user_id": "user_abc_account__session_58d6b1ec-9c55-4b4f-b9ed-2a05e0d564d0"}
    return cold


@pytest.mark.parametrize("name", ["success", "multi_turn", "tools_round_trip", "json_schema_retry", "image"])
def test_a_warm_run_sending_what_its_cold_twin_sends_holds(name):
    assert diff.compare_twins(f"{name}_warm", warm_twin(name), name, cold_twin(name)) == []


def recording_of(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_a_warm_run_sending_another_system_prompt_breaks():
    def change(warm):
        warm["upstream_requests"][0]["body"]["system"][2]["text"] = "You are verbose."

    [change_] = diff.compare_twins("success_warm", warm_twin("success", change), "success", cold_twin("success"))
    assert change_.breaks and change_.kind == "warm request differs"
    assert change_.message == 'request 1: body.system[2].text: You are terse. -> You are verbose. (cold twin: success)'


def test_a_warm_run_making_another_request_breaks():
    def change(warm):
        warm["upstream_requests"].append(warm["upstream_requests"][0])

    [change_] = diff.compare_twins("success_warm", warm_twin("success", change), "success", cold_twin("success"))
    assert change_.breaks and change_.message == "2 upstream requests where the cold twin success made 1"


def test_named_twins_are_compared_in_the_upgrade_diff(versions, capsys, monkeypatch):
    monkeypatch.setattr(diff, "TWINS", {"success_warm": "success", "thinking_warm": "thinking"})
    warm = warm_twin("success", lambda r: r["upstream_requests"][0]["body"].update(max_tokens=64000))
    (versions / "cli-1.0.1" / "success_warm.json").write_text(json.dumps(warm))
    code, out = run(versions, capsys)
    assert code == 1
    assert "**BREAKS** warm request differs: request 1: body.max_tokens: 128000 -> 64000 (cold twin: success)" in out
    assert "thinking_warm" not in out  # recorded for neither version: nothing to compare
