"""The CLI's own environment records, captured once, that keep the host's details from the model.

Left to itself the CLI tells the model, on every request, its working directory's path, the
platform, the shell and the host's kernel release (and, with an OAuth login, the operator's
e-mail address). It does not repeat what a conversation already holds: a transcript that begins
with its own `environment` and `session_context` records, replayed from their `rendered` text,
makes it show nothing for them. So at start-up the proxy lets the CLI write those records once,
against a loopback upstream (loopback.py), and heads every run's transcript with them
(command.build_command), the working directory set to that run's own.

The records must be the CLI's own: one that differs in any field makes the CLI send the whole
environment again. The integration tests and the upgrade recordings check the upstream requests.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import shutil
import tempfile

from . import cli, command, loopback
from .reaper import workdir_prefix

log = logging.getLogger("proxy")
KINDS = ("environment", "session_context")
CAPTURE_TIMEOUT = 60.0
# Backends the loopback cannot stand in for: a capture run would reach them.
OTHER_BACKENDS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")


@dataclasses.dataclass(frozen=True)
class Seeds:
    """The captured attachments: `environment` (without its working directory) and `session_context`."""

    attachments: tuple

    def records(self, cwd):
        """Return the transcript records that head a run whose working directory is cwd."""
        out = []
        for attachment in self.attachments:
            attachment = json.loads(json.dumps(attachment))
            if attachment["type"] == "environment":
                attachment["snapshot"] = {"workingDirectory": os.path.realpath(cwd), **attachment["snapshot"]}
            out.append({"type": "attachment", "uuid": f"seed-{attachment['type']}", "attachment": attachment,
                        "rendered": [{"content": " "}]})
        return out


def capture(settings, environ=None):
    """Run the CLI once against the loopback; return the Seeds it recorded, or None (logged) if it cannot.

    environ, if given, is the CLI's environment (default: the one its runs get).
    """
    if any((environ or os.environ).get(name) for name in OTHER_BACKENDS):
        log.warning("Bedrock or Vertex is configured: the CLI's environment block (working directory, kernel "
                    "release) cannot be captured and reaches the model with every request.")
        return None
    workdir = tempfile.mkdtemp(prefix=workdir_prefix() + "seeds-")  # swept like a run's if left behind
    try:
        argv, cwd, stdin = capture_command(settings, workdir)
        with loopback.Upstream() as upstream:
            env = dict(environ or command.environment(settings), ANTHROPIC_BASE_URL=upstream.url)
            returncode, _, stderr = cli.run_once(argv, env, cwd, stdin, CAPTURE_TIMEOUT)
        found = captured(workdir)
        if found is None:
            log.warning("The Claude CLI (exit status %s) wrote no environment record to capture%s; the model sees "
                        "the host's details with every request.", returncode,
                        f": {stderr.strip()[-300:]}" if stderr.strip() else "")
        return found
    except Exception as exc:  # the server runs without seeds rather than not at all
        log.warning("Could not capture the CLI's environment records (%s); the model sees the host's details.", exc)
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def capture_command(settings, workdir):
    """Return (argv, cwd, stdin) of the run that makes the CLI write its environment records into workdir.

    It resumes a two-turn conversation without --no-session-persistence: the CLI then writes its
    own transcript, records included, next to the one it resumed.
    """
    cwd = os.path.join(workdir, "cwd")
    os.mkdir(cwd, 0o700)
    conversation = command.transcript([("user", [{"type": "text", "text": "Hello"}]),
                                       ("assistant", [{"type": "text", "text": "Hello."}])])
    with open(os.path.join(workdir, "seed.jsonl"), "w", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in conversation))
    with open(os.path.join(workdir, "system-prompt.txt"), "w", encoding="utf-8") as f:
        f.write("")
    flags = [f for f in command.BASE_FLAGS if f != "--no-session-persistence"]
    argv = [settings.claude_path, *flags, "--model", settings.model,
            "--system-prompt-file", os.path.join(workdir, "system-prompt.txt"),
            "--resume", os.path.join(workdir, "seed.jsonl"), "--max-turns", "1"]
    message = {"type": "user", "message": {"role": "user", "content": "Hello"}}
    return argv, cwd, (json.dumps(message) + "\n").encode()


def captured(workdir):
    """Return the Seeds in the transcript the CLI wrote into workdir, or None when it wrote none."""
    found = {}
    for path in sorted(glob.glob(os.path.join(workdir, "*.jsonl"))):
        if os.path.basename(path) == "seed.jsonl":
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                record = cli.parse_line(line) or {}
                attachment = record.get("attachment") or {}
                if record.get("type") == "attachment" and attachment.get("type") in KINDS:
                    found[attachment["type"]] = attachment
    if "environment" not in found:
        return None
    found["environment"] = dict(found["environment"], snapshot={
        k: v for k, v in found["environment"]["snapshot"].items() if k != "workingDirectory"})
    return Seeds(tuple(found[kind] for kind in KINDS if kind in found))
