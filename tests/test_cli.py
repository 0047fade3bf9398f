"""The CLI is run safely: prompt on stdin, no tools, private empty cwd, allow-listed env, reaped."""
import json
import os
import stat
import time

import pytest

from tests.support import CLAUDE, alive, events, recording
from proxy import cli
from proxy.cli import CliRun
from proxy.command import CliInput
from proxy.errors import CliUnavailable, Timeout
from proxy.seeds import Seeds

SEEDS = Seeds(({"type": "environment", "snapshot": {"isWorktree": False, "isGitRepo": False, "platform": "linux",
                                                    "shell": "bash", "osVersion": "Linux 1.2.3-test"}},
               {"type": "session_context", "context": {}}))


def ask(text, **fields):
    return CliInput(model=fields.pop("model", "haiku"), message=({"type": "text", "text": text},), **fields)


def stdout_of(name):
    """The stdout a recorded run printed, as the CLI wrote it."""
    return "".join(line["line"] + "\n" for line in recording(name)["stdout"])


@pytest.fixture
def spawned(fp):
    """Register one CLI run that records what it was started with (argv, env, cwd, files)."""
    seen = {}

    def callback(process):
        kwargs = process.kwargs
        cwd = kwargs["cwd"]
        workdir = os.path.dirname(cwd)
        seen.update(argv=list(process.args), env=kwargs["env"], cwd=cwd, cwd_entries=os.listdir(cwd),
                    workdir=workdir, workdir_mode=stat.S_IMODE(os.stat(workdir).st_mode),
                    files={n: open(os.path.join(workdir, n)).read() for n in os.listdir(workdir) if n != "cwd"},
                    new_session=kwargs.get("start_new_session"))

    fp.register([CLAUDE, fp.any()], stdout=stdout_of("success"), callback=callback)
    return seen


def run_to_end(settings, cli_input, seeds=None):
    run = CliRun(settings, cli_input, seeds)
    try:
        events = list(run.events())
        return run, events, run.wait()
    finally:
        run.close()


def test_prompt_never_reaches_argv(settings, spawned):
    prompt = '--settings={"hooks":{}} --version ' + "x" * 200_000
    run_to_end(settings, ask(prompt))
    assert not any(prompt[:20] in arg for arg in spawned["argv"])
    assert all(len(arg) < 1000 for arg in spawned["argv"])


def test_cli_is_offered_no_tools_mcp_servers_settings_or_sessions(settings, spawned):
    run_to_end(settings, ask("hi"))
    argv = spawned["argv"]
    assert argv[0] == CLAUDE and argv[1] == "-p"
    assert argv[argv.index("--tools") + 1] == ""
    assert argv[argv.index("--setting-sources") + 1] == ""
    for flag in ("--strict-mcp-config", "--no-session-persistence", "--disable-slash-commands"):
        assert flag in argv
    assert "--bare" not in argv and "--mcp-config" not in argv
    assert argv[argv.index("--output-format") + 1] == "stream-json"
    assert spawned["new_session"] is True


def test_cli_runs_in_an_empty_private_directory_removed_afterwards(settings, spawned):
    run, _, _ = run_to_end(settings, ask("hi"))
    assert spawned["cwd_entries"] == []
    assert spawned["workdir_mode"] == 0o700
    assert not os.path.exists(spawned["workdir"])


def test_system_prompt_and_history_go_in_files_the_proxy_names(settings, spawned):
    history = (("user", ({"type": "text", "text": "--version"},)), ("assistant", ({"type": "text", "text": "ok"},)))
    run_to_end(settings, ask("hi", model="opus", system_prompt="--be-terse", history=history, effort="high"))
    argv = spawned["argv"]
    assert spawned["files"]["system-prompt.txt"] == "--be-terse"
    assert argv[argv.index("--system-prompt-file") + 1] == os.path.join(spawned["workdir"], "system-prompt.txt")
    assert argv[argv.index("--resume") + 1] == os.path.join(spawned["workdir"], "history.jsonl")
    records = [json.loads(line) for line in spawned["files"]["history.jsonl"].splitlines()]
    assert [(r["type"], r["message"]["content"]) for r in records] == [
        ("user", [{"type": "text", "text": "--version"}]), ("assistant", [{"type": "text", "text": "ok"}])]
    assert argv[argv.index("--resume-session-at") + 1] == records[-1]["uuid"]
    assert argv[argv.index("--model") + 1] == "opus" and argv[argv.index("--effort") + 1] == "high"


def test_the_transcript_is_headed_by_the_seeds_with_this_runs_directory(settings, spawned):
    history = (("user", ({"type": "text", "text": "Hi"},)), ("assistant", ({"type": "text", "text": "Hello"},)))
    run_to_end(settings, ask("hi", history=history), SEEDS)
    records = [json.loads(line) for line in spawned["files"]["history.jsonl"].splitlines()]
    assert [r["type"] for r in records] == ["attachment", "attachment", "user", "assistant"]
    environment = records[0]["attachment"]
    assert environment["snapshot"] == {"workingDirectory": os.path.realpath(spawned["cwd"]),
                                       **SEEDS.attachments[0]["snapshot"]}
    assert records[1]["attachment"] == SEEDS.attachments[1]
    assert all(r["rendered"] == [{"content": " "}] for r in records[:2])
    assert [r["parentUuid"] for r in records] == [None] + [r["uuid"] for r in records[:-1]]
    argv = spawned["argv"]
    assert argv[argv.index("--resume-session-at") + 1] == records[-1]["uuid"]


def test_seeds_alone_still_cut_the_transcript(settings, spawned):
    run_to_end(settings, ask("hi"), SEEDS)
    records = [json.loads(line) for line in spawned["files"]["history.jsonl"].splitlines()]
    assert [r["uuid"] for r in records] == ["seed-environment", "seed-session_context"]
    assert spawned["argv"][spawned["argv"].index("--resume-session-at") + 1] == "seed-session_context"


def test_no_history_means_no_resume(settings, spawned):
    run_to_end(settings, ask("hi"))
    assert "--resume" not in spawned["argv"] and "--effort" not in spawned["argv"]


def test_environment_is_built_from_an_allow_list(settings, spawned, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-kept")
    monkeypatch.setenv("CLAUDE_CODE_EFFORT_LEVEL", "max")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-cli")
    monkeypatch.setenv("PROXY_API_KEY", "not-for-the-cli")
    run_to_end(settings.replace(max_retries=2), ask("hi", max_output_tokens=77))
    env = spawned["env"]
    assert env["ANTHROPIC_API_KEY"] == "sk-kept"
    assert "CLAUDE_CODE_EFFORT_LEVEL" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "PROXY_API_KEY" not in env
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "77"
    assert env["CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK"] == "1"
    assert env["CLAUDE_CODE_DISABLE_CLAUDE_MDS"] == "1"
    assert env["BUN_GC_TIMER_DISABLE"] == "1"  # what a spare's waiting costs in CPU (proxy/command.py)


def test_events_are_the_json_lines_the_cli_prints(settings, fp):
    fp.register([CLAUDE, fp.any()], stdout=stdout_of("success"))
    run, printed, returncode = run_to_end(settings, ask("hi"))
    assert printed == events("success") and run.other_output == [] and returncode == 0


def test_events_skip_lines_that_are_not_json(settings, fp):
    fp.register([CLAUDE, fp.any()], stdout=stdout_of("text_output"))
    run, printed, _ = run_to_end(settings, ask("hi"))
    assert printed == [] and run.other_output == [line["line"] for line in recording("text_output")["stdout"]]


def test_missing_cli_is_reported_with_its_path(settings):
    with pytest.raises(CliUnavailable) as caught:
        CliRun(settings.replace(claude_path="/nonexistent/claude"), ask("hi"))
    assert "CLAUDE_PATH='/nonexistent/claude'" in caught.value.message
    assert caught.value.status == 503


@pytest.fixture
def forking_cli(tmp_path):
    """A stand-in CLI that starts a child of its own and never answers."""
    script = tmp_path / "claude"
    pids = tmp_path / "pids"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $$ $! > {pids}\nexec sleep 60\n")
    script.chmod(0o755)
    return script, pids


def test_deadline_kills_the_whole_process_group(settings, forking_cli):
    script, pids = forking_cli
    run = CliRun(settings.replace(claude_path=str(script), timeout=1), ask("hi"))
    try:
        with pytest.raises(Timeout):
            list(run.events())
    finally:
        run.close()
    leader, child = map(int, pids.read_text().split())
    assert run.timed_out
    assert not alive(leader) and not alive(child)


def test_close_reaps_a_running_cli_at_once(settings, forking_cli):
    script, pids = forking_cli
    run = CliRun(settings.replace(claude_path=str(script), timeout=60), ask("hi"))
    deadline = time.monotonic() + 30
    while not pids.exists() or not pids.read_text().strip():
        assert time.monotonic() < deadline, "the stand-in CLI never started"
        time.sleep(0.01)
    started = time.monotonic()
    run.close()
    assert time.monotonic() - started < cli.KILL_GRACE
    assert not any(alive(int(pid)) for pid in pids.read_text().split())


def test_version_is_probed_from_the_cli(settings, fp):
    fp.register([CLAUDE, "--version"], stdout="2.1.328 (Claude Code)\n")
    assert cli.cli_version(settings) == "2.1.328"


def test_version_of_a_missing_cli_is_none(settings):
    assert cli.cli_version(settings.replace(claude_path="/nonexistent/claude")) is None
