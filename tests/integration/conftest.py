"""Integration fixtures: the real CLI (the pinned one, or CLI_VERSION) behind gunicorn, against the stub.

The pytest header naming that version comes from tests/conftest.py: pytest asks only the conftest
files it loads at startup, and `pytest tests` loads this one later.
"""
import json

import pytest

from contract_tests.support import CLI_VERSION, Server
from harness.install_cli import ensure_cli
from harness.stub_upstream import StubUpstream

SENTINEL = "USER-CLAUDE-MD-SENTINEL"


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    """The CLI's HOME, holding what a user's own Claude Code set-up may hold and the proxy must ignore."""
    home = tmp_path_factory.mktemp("home")
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"SessionStart": [
        {"hooks": [{"type": "command", "command": f"touch {home}/settings-hook-ran"}]}]}}))
    (home / ".claude" / "CLAUDE.md").write_text(SENTINEL)
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"user-server": {
        "command": "sh", "args": ["-c", f"touch {home}/mcp-server-ran"]}}}))
    return home


@pytest.fixture(scope="session")
def claude():
    return ensure_cli(CLI_VERSION)


@pytest.fixture(scope="session")
def stub():
    with StubUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def server(tmp_path_factory, claude, stub, home):
    s = Server(tmp_path_factory.mktemp("server"), claude=claude, HOME=str(home), ANTHROPIC_BASE_URL=stub.url,
               ANTHROPIC_API_KEY="sk-test", CLAUDE_TIMEOUT="60")
    yield s
    s.stop()


@pytest.fixture
def upstream(stub):
    """The requests the stub receives during one test."""
    start = len(stub.requests)

    class Seen:
        @property
        def posts(self):
            return [r for r in stub.requests[start:] if r["path"].startswith("/v1/messages")]

    return Seen()
