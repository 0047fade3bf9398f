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
