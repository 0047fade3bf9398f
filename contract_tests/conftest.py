"""Contract tests: the real app under gunicorn, with a fake CLI that replays the recordings."""
import json

import pytest

from contract_tests.support import ROOT, Server

REFERENCE = ROOT / "contract_tests" / "reference" / "openai_chat_schemas.json"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("server"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def short_server(tmp_path_factory):
    """A server whose CLI deadline is 3 s and whose silent streams get a keep-alive every second."""
    s = Server(tmp_path_factory.mktemp("short"), CLAUDE_TIMEOUT="3", SSE_KEEPALIVE="1")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def official():
    """A validator for a definition of the official OpenAI schemas."""
    import jsonschema

    bundle = json.loads(REFERENCE.read_text())

    def validator(name):
        return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": bundle["$defs"]})

    return validator
