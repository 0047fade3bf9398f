"""What one CLI run is: its input, argv, environment, files and stdin (no process is started here).

The prompt never goes on argv. Every run reads stream-json on stdin: control requests (the JSON
schema of structured output travels in `initialize`, so no argv limit applies), then the final
user turn as one user message. Everything before that turn is a transcript given to `--resume`,
headed by the CLI's own environment records (seeds.py) so that the host's details stay out of what
the model sees, and cut with `--resume-session-at` at its last record, so that the CLI adds no
turn of its own after it. What a client sends reaches the CLI only as stdin or as the content of
files this module names itself.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import tempfile

from .reaper import workdir_prefix

# The CLI is run for one model answer and nothing else: no built-in tools, no MCP servers but the
# (empty) ones named here, no settings files (so no hooks), no slash commands, no transcript on disk.
BASE_FLAGS = (
    "-p",
    "--output-format", "stream-json", "--verbose", "--include-partial-messages",
    "--input-format", "stream-json",
    "--tools", "",
    "--strict-mcp-config",
    "--setting-sources", "",
    "--disable-slash-commands",
    "--no-session-persistence",
)

# Variables the CLI may need to find its login, its network and its locale. Everything else in the
# proxy's environment (CLAUDE_CODE_EFFORT_LEVEL, which beats --effort, among others) stays out.
INHERITED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_CUSTOM_HEADERS",
    "CLAUDE_CONFIG_DIR", "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "AWS_REGION", "AWS_PROFILE",
    "ANTHROPIC_VERTEX_PROJECT_ID", "CLOUD_ML_REGION", "GOOGLE_APPLICATION_CREDENTIALS",
    "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
    "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE",
)
FIXED_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_CLAUDE_MDS": "1",
    "CLAUDE_CODE_DISABLE_AUTO_MEMORY": "1",
    # A failed stream is reported, never silently replaced by a non-streamed retry: text already
    # forwarded to a client cannot be withdrawn.
    "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
    # No "<total_tokens>N tokens left</total_tokens>" in what the model sees.
    "CLAUDE_CODE_TOTAL_TOKENS_REMINDER": "off",
    # The CLI's runtime (Bun) collects garbage on a timer as well as when it allocates. A CLI waiting
    # for its prompt (a spare) spends that timer's collections for nothing: its own CPU up to the
    # result was 0.81 CPU-s bound after 3 s against 0.61 answering at once; with the timer off, 0.65
    # against 0.65 (bench/spare_cpu.py, README). A run is one short turn: allocation still collects.
    "BUN_GC_TIMER_DISABLE": "1",
}
TRANSCRIPT_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class CliInput:
    """What one CLI run is asked: built from an Ask by conversation.py, run by cli.py."""

    model: str
    message: tuple  # the final user turn: Messages API blocks (text, image, tool_result)
    system_prompt: str | None = None
    history: tuple = ()  # the turns before it, (role, blocks), ending with the assistant's
    effort: str | None = None
    max_output_tokens: int | None = None
    json_schema: dict | None = None  # the StructuredOutput tool's input schema
    max_turns: int = 1
    thinking: dict | None = None  # the Messages API's `thinking`, applied as far as the CLI can (thinking_options)

    @property
    def prompt(self):
        """The final turn's text."""
        return "\n\n".join(b["text"] for b in self.message if b["type"] == "text")

    @property
    def content(self):
        """The final user message's content: a string when it is only text, else its blocks."""
        if all(b["type"] == "text" for b in self.message):
            return self.prompt
        return list(self.message)


def build_command(settings, cli_input, workdir, seeds=None, extra_env=None):
    """Return (argv, env, files) for a run in workdir; files maps a name in workdir to its content."""
    argv = [settings.claude_path, *BASE_FLAGS, "--model", cli_input.model]
    # The system prompt goes in a file: on argv it would be bounded by the 128 KiB argument limit.
    files = {"system-prompt.txt": cli_input.system_prompt or ""}
    argv += ["--system-prompt-file", os.path.join(workdir, "system-prompt.txt")]
    records = transcript(cli_input.history, seeds.records(os.path.join(workdir, "cwd")) if seeds else [])
    if records:
        # A non-UUID stem ending in .jsonl makes --resume read this file as the conversation so far;
        # cut at its last record, the CLI adds nothing after it ("No response requested.", or a
        # stand-in result for the last assistant's open tool call).
        files["history.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        argv += ["--resume", os.path.join(workdir, "history.jsonl"), "--resume-session-at", records[-1]["uuid"]]
    if cli_input.effort:
        argv += ["--effort", cli_input.effort]
    # Model turns: with 1, a tool call the model makes is not answered by the CLI calling the model
    # again; more let the CLI ask again for structured output that did not match its schema.
    # Not listed by --help, but accepted (see the tool_call recording).
    argv += ["--max-turns", str(cli_input.max_turns)]
    thinking_argv, thinking_env = thinking_options(cli_input.thinking)
    argv += thinking_argv
    env = dict(environment(settings, cli_input.max_output_tokens), **thinking_env, **(extra_env or {}))
    return argv, env, files


def thinking_options(thinking):
    """Return (argv, env) that tell the CLI what a Messages API `thinking` asks, as far as it can be told.

    The CLI sends its current models adaptive thinking whatever its flags say (2.1.328: it reports
    they cannot turn thinking off); CLAUDE_CODE_DISABLE_THINKING takes the thinking config out of its
    request, leaving thinking to the API's default for the model (off for the models that take a
    budget). A budget reaches those models (`--max-thinking-tokens`, not listed by --help), and
    `summarized` display replaces the CLI's default (`updates`).
    """
    thinking = thinking or {}
    argv, env = [], {}
    if thinking.get("type") == "disabled":
        env["CLAUDE_CODE_DISABLE_THINKING"] = "1"
    if thinking.get("type") == "enabled":
        argv += ["--max-thinking-tokens", str(int(thinking["budget_tokens"]))]
    if thinking.get("display") == "summarized":
        argv += ["--thinking-display", "summarized"]
    return argv, env


def environment(settings, max_output_tokens=None):
    """Return the CLI's environment: the allow-listed variables and the fixed ones."""
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env.update(FIXED_ENV)
    env["CLAUDE_CODE_MAX_RETRIES"] = str(settings.max_retries)
    if max_output_tokens:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(max_output_tokens)
    return env


def stdin_lines(cli_input, spawned=None):
    """Return the stream-json lines the CLI reads: control requests, then the user message.

    spawned is what the CLI was started with, when it was started ahead of the request (a spare):
    whatever of cli_input differs is then set over the control protocol (the system prompt and
    schema in initialize, the model, the effort and the output limit); the upstream request is the
    same as a run started with cli_input (tests/integration/test_warm_start.py).
    """
    spawned = spawned or cli_input
    init, lines = {}, []
    if cli_input.system_prompt != spawned.system_prompt:
        init["systemPrompt"] = [cli_input.system_prompt or ""]
    if cli_input.json_schema:
        init["jsonSchema"] = cli_input.json_schema
    if init:
        lines.append(control_request("initialize", "initialize", **init))
    if cli_input.model != spawned.model:
        lines.append(control_request("model", "set_model", model=cli_input.model))
    flags = {}
    if cli_input.effort != spawned.effort:
        flags["effortLevel"] = cli_input.effort
    if cli_input.max_output_tokens != spawned.max_output_tokens:
        flags["env"] = {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(cli_input.max_output_tokens or "")}
    if flags:
        lines.append(control_request("flags", "apply_flag_settings", settings=flags))
    lines.append({"type": "user", "message": {"role": "user", "content": cli_input.content}})
    return lines


def stdin_bytes(cli_input, spawned=None):
    lines = stdin_lines(cli_input, spawned)
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def control_request(request_id, subtype, **fields):
    return {"type": "control_request", "request_id": request_id, "request": {"subtype": subtype, **fields}}


def prepare(settings, cli_input, seeds=None, prefix=None, extra_env=None):
    """Make a run's private directory with its files and an empty cwd; return (workdir, cwd, argv, env).

    The directory is named for this process (reaper.workdir_prefix) unless prefix says otherwise.
    """
    workdir = os.path.realpath(tempfile.mkdtemp(prefix=prefix or workdir_prefix()))  # the CLI reports the real path
    cwd = os.path.join(workdir, "cwd")  # empty: the CLI runs here
    os.mkdir(cwd, 0o700)
    argv, env, files = build_command(settings, cli_input, workdir, seeds, extra_env)
    for name, content in files.items():
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
            f.write(content)
    return workdir, cwd, argv, env


def transcript(turns, head=()):
    """Return transcript records for --resume: head records, then the turns; chained uuids, a timestamp each."""
    records, parent = [], None
    for number, record in enumerate(list(head) + [_record(role, blocks) for role, blocks in turns]):
        record = dict(record, parentUuid=parent, timestamp=_timestamp(number))
        record.setdefault("uuid", f"turn-{number:05d}")
        records.append(record)
        parent = record["uuid"]
    return records


def _record(role, blocks):
    return {"type": role, "message": {"role": role, "content": list(blocks)}}


def _timestamp(number):
    moment = TRANSCRIPT_EPOCH + datetime.timedelta(milliseconds=number)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
