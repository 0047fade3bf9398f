"""Recordings and helpers shared by the unit tests."""
import json
import pathlib


ROOT = pathlib.Path(__file__).resolve().parent.parent
PINNED = (ROOT / "fixtures" / "PINNED").read_text().strip()
FIXTURES = ROOT / "fixtures" / f"cli-{PINNED}"
CLAUDE = "/opt/fake/claude"
# The official OpenAI schemas (openai/openai-openapi, MIT), kept in the repo so every run checks them.
OFFICIAL = json.loads((ROOT / "contract_tests" / "reference" / "openai_chat_schemas.json").read_text())


def recording(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def events(name):
    """The JSON events a recording printed, in order."""
    return [json.loads(line["line"]) for line in recording(name)["stdout"] if line["line"].startswith("{")]



def sse_events(data):
    """Split an SSE body into its data payloads (JSON decoded, except [DONE]) and comments."""
    out = []
    for block in data.decode().split("\n\n"):
        if not block:
            continue
        assert block.startswith(("data: ", ":")), block
        if block.startswith("data: "):
            payload = block[6:]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def settled(name, plan=None):
    """Return (answer, error) for a recording, read and settled as the run driver does (error None on success)."""
    from proxy.answer import Answer, replay, settle
    from proxy.errors import ProxyError

    rec = recording(name)
    answer = Answer(rec["input"]["model"], plan=plan)
    other = replay(answer, [line["line"] for line in rec["stdout"]])
    try:
        settle(answer, rec["returncode"], rec["stderr"], other)
    except ProxyError as error:
        return answer, error
    return answer, None


def register_start(fp, version=None):
    """Register what create_app runs: `claude --version`, then the capture of the CLI's environment records
    (replaying the pinned recording, which writes the CLI's own transcript next to the one it resumed)."""
    from proxy.command import BASE_FLAGS

    fp.register([CLAUDE, "--version"], stdout=f"{version or PINNED} (Claude Code)\n")
    flags = [f for f in BASE_FLAGS if f != "--no-session-persistence"]
    capture = recording("seeds")

    def write_transcript(process):
        workdir = pathlib.Path(process.args[process.args.index("--resume") + 1]).parent
        (workdir / "written.jsonl").write_text("".join(
            line.replace("<workdir>", str(workdir)) + "\n" for line in capture["written_transcript"]))

    fp.register([CLAUDE, *flags, "--model", fp.any(min=1, max=1), "--system-prompt-file", fp.any(min=1, max=1),
                 "--resume", fp.any(min=1, max=1), "--max-turns", "1"], callback=write_transcript)


def alive(pid):
    """True if pid runs (a zombie waiting to be reaped does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
