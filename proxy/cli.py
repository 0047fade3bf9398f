"""Own the Claude CLI subprocess: argv, environment, private working directory, deadline and kill.

Nothing else in the proxy imports subprocess. The prompt always goes through stdin; what a client
sends reaches the CLI only as stdin text or as the content of files this module names itself.
"""
from __future__ import annotations

import dataclasses
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from .errors import CliUnavailable, Timeout

# The CLI is run for one model answer and nothing else: no built-in tools, no MCP servers but the
# (empty) ones named here, no settings files (so no hooks), no slash commands, no transcript on disk.
BASE_FLAGS = (
    "-p",
    "--output-format", "stream-json", "--verbose", "--include-partial-messages",
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
}
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
EOF = object()


@dataclasses.dataclass(frozen=True)
class CliInput:
    """What one CLI run is asked: built from a client request by translate, run by this module."""

    prompt: str
    model: str
    system_prompt: str | None = None
    history: tuple = ()  # transcript records, written to a .jsonl file given to --resume
    effort: str | None = None
    max_output_tokens: int | None = None
    input_blocks: tuple | None = None  # the prompt as content blocks (images): sent as stream-json
    json_schema: str | None = None  # the StructuredOutput tool's input schema, as JSON text
    max_turns: int = 1
    thinking: dict | None = None  # the Messages API's `thinking`, applied as far as the CLI can (thinking_options)


def build_command(settings, cli_input, workdir):
    """Return (argv, env, files) for a run in workdir; files maps a name in workdir to its content."""
    argv = [settings.claude_path, *BASE_FLAGS, "--model", cli_input.model]
    files = {}
    # The system prompt goes in a file: on argv it would be bounded by the 128 KiB argument limit.
    files["system-prompt.txt"] = cli_input.system_prompt or ""
    argv += ["--system-prompt-file", os.path.join(workdir, "system-prompt.txt")]
    if cli_input.history:
        # A non-UUID stem ending in .jsonl makes --resume read this file as the conversation so far.
        files["history.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in cli_input.history)
        argv += ["--resume", os.path.join(workdir, "history.jsonl")]
    if cli_input.effort:
        argv += ["--effort", cli_input.effort]
    # Model turns: with 1, a tool call the model makes is not answered by the CLI calling the model
    # again; more let the CLI ask again for structured output that did not match its schema.
    # Not listed by --help, but accepted (see the tool_call recording).
    argv += ["--max-turns", str(cli_input.max_turns)]
    thinking_argv, thinking_env = thinking_options(cli_input.thinking)
    argv += thinking_argv
    if cli_input.json_schema:
        argv += ["--json-schema", cli_input.json_schema]  # JSON text: starts with "{", never an option
    if cli_input.input_blocks:
        argv += ["--input-format", "stream-json"]
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env.update(FIXED_ENV)
    env["CLAUDE_CODE_MAX_RETRIES"] = str(settings.max_retries)
    env.update(thinking_env)
    if cli_input.max_output_tokens:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(cli_input.max_output_tokens)
    return argv, env, files


def thinking_options(thinking):
    """Return (argv, env) that tell the CLI what a Messages API `thinking` asks, as far as it can be told.

    The CLI sends its current models adaptive thinking whatever its flags say (2.1.328: it reports
    they cannot turn thinking off); CLAUDE_CODE_DISABLE_THINKING takes the thinking config out of its
    request, leaving thinking to the API's default for the model (off for the models that take a
    budget). A budget reaches those models (`--max-thinking-tokens`), and `summarized` display
    replaces the CLI's default (`updates`).
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


def prepare(settings, cli_input, prefix="claude-proxy-"):
    """Make a run's private directory with its files and an empty cwd; return (workdir, cwd, argv, env)."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    cwd = os.path.join(workdir, "cwd")  # empty: the CLI sends its path upstream
    os.mkdir(cwd, 0o700)
    argv, env, files = build_command(settings, cli_input, workdir)
    for name, content in files.items():
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
            f.write(content)
    return workdir, cwd, argv, env


def stdin_bytes(cli_input):
    """Return what the CLI reads on stdin: the prompt text, or one stream-json user message."""
    if cli_input.input_blocks:
        message = {"type": "user", "message": {"role": "user", "content": list(cli_input.input_blocks)}}
        return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
    return cli_input.prompt.encode("utf-8")


class CliRun:
    """One running CLI. Iterate events(); always close(), which reaps the whole process group."""

    def __init__(self, settings, cli_input):
        self.deadline = time.monotonic() + settings.timeout
        self.workdir, self.cwd, argv, env = prepare(settings, cli_input)
        self.lines = queue.Queue()
        self.stderr_chunks = []
        self.other_output = []  # stdout lines that are not JSON events
        self.timed_out = False
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, env=env, start_new_session=True)
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise CliUnavailable(
                f"Cannot run the Claude CLI at CLAUDE_PATH={settings.claude_path!r}: {exc.strerror or exc}. "
                "Install it (npm install -g @anthropic-ai/claude-code) or set CLAUDE_PATH.") from None
        # Only a group this process created is ever signalled as a group.
        self.group = self.proc.pid if _is_own_child(self.proc.pid) else None
        self._threads = [
            threading.Thread(target=self._feed_stdin, args=(stdin_bytes(cli_input),), daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _feed_stdin(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the CLI ended before reading its prompt; its exit status tells why

    def _read_stdout(self):
        try:
            for line in self.proc.stdout:
                self.lines.put(line)
        finally:
            self.lines.put(EOF)

    def _read_stderr(self):
        for chunk in self.proc.stderr:
            self.stderr_chunks.append(chunk)

    def events(self, idle=None):
        """Yield each JSON event the CLI prints, and None after `idle` silent seconds (if given).

        Raises Timeout at the deadline, after killing the CLI.
        """
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                self.kill()
                raise Timeout()
            try:
                line = self.lines.get(timeout=min(remaining, idle) if idle else remaining)
            except queue.Empty:
                if idle:
                    yield None
                continue
            if line is EOF:
                return
            event = parse_line(line)
            if event is not None:
                yield event
            elif line.strip():
                self.other_output.append(line.decode("utf-8", "replace").rstrip())

    @property
    def stderr(self):
        return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def wait(self):
        """Return the exit status once the CLI has ended (killing it at the deadline)."""
        if not self._exited_by(self.deadline):
            self.timed_out = True
            self.kill()
            raise Timeout()
        return self.proc.returncode

    def _exited_by(self, moment):
        """Wait until the CLI exits or the monotonic clock reaches moment; tell whether it exited."""
        exited = _exit_watch(self.group)
        try:
            pause = 0.0005
            while self.proc.poll() is None:
                remaining = moment - time.monotonic()
                if remaining <= 0:
                    return False
                if exited is not None:
                    select.select([exited], [], [], remaining)  # readable once the CLI has exited
                else:
                    time.sleep(min(pause, remaining))
                    pause = min(pause * 2, 0.02)
            return True
        finally:
            if exited is not None:
                os.close(exited)

    def kill(self):
        """End the CLI's whole process group: SIGTERM, then SIGKILL after a grace period."""
        if self.proc.poll() is None:
            _signal_group(self.proc, self.group, signal.SIGTERM)
            try:
                self.proc.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                pass
        # Children the CLI left behind share its group even after the leader is gone.
        _signal_group(self.proc, self.group, signal.SIGKILL)
        self.proc.wait()

    def close(self, grace=0.0):
        """Reap the CLI and its group, and remove the private working directory.

        A CLI that has printed its result is finishing on its own: grace gives it that many
        seconds to exit cleanly before it is killed.
        """
        try:
            if grace:
                self._exited_by(time.monotonic() + grace)
            self.kill()
            for thread in self._threads:
                thread.join(timeout=1)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def parse_line(line):
    """Return a stdout line of the CLI as its JSON event (a dict), or None when it is not one."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _exit_watch(pid):
    """Return a pidfd that becomes readable when our child pid exits, or None where there is none.

    It lets wait() wake the moment the CLI exits instead of polling (Linux 5.3 and later).
    """
    if not pid or not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _is_own_child(pid):
    """Tell whether pid is a child of this process (without reaping it)."""
    if pid <= 0:
        return False
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return True
    except ChildProcessError:
        return False


def _signal_group(proc, group, sig):
    # start_new_session made the CLI the leader of its own group, whose id is its pid; the group
    # outlives the leader, so children the CLI left behind are reached too.
    try:
        if group:
            os.killpg(group, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def cli_version(settings):
    """Return the CLI's own version line (`claude --version`), or None if it cannot be run."""
    try:
        done = subprocess.run([settings.claude_path, "--version"], capture_output=True, timeout=30,
                              env={k: os.environ[k] for k in INHERITED_ENV if k in os.environ},
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.decode("utf-8", "replace").strip()
    return text.split()[0] if done.returncode == 0 and text else None
