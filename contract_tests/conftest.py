"""Contract tests: the real app under gunicorn, with a fake CLI that replays the recordings."""
import json

import pytest

from contract_tests.support import FIXTURES, ROOT, VERSION, Server

REFERENCE = ROOT / "contract_tests" / "reference" / "openai_chat_schemas.json"


def pytest_report_header():
    return f"contract tests replay the recordings of Claude CLI {VERSION} ({FIXTURES.relative_to(ROOT)})"


def pytest_configure(config):
    if not FIXTURES.is_dir():
        recorded = sorted(p.name[4:] for p in FIXTURES.parent.glob("cli-*"))
        raise pytest.UsageError(f"CLI_FIXTURES_VERSION={VERSION}: there are no recordings in {FIXTURES}; "
                                f"recorded versions: {', '.join(recorded)} (record one with tox -e cli -- {VERSION})")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The server most tests share; room for four runs at once, whatever the machine's cores."""
    s = Server(tmp_path_factory.mktemp("server"), MAX_CONCURRENCY="4")
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
