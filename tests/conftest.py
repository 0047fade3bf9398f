"""Unit-test fixtures: the app over a CLI faked at the process boundary with recorded outputs."""
import threading

import pytest

from contract_tests.support import CLI_VERSION
from proxy import create_app
from proxy.config import Settings
from tests.support import CLAUDE, OFFICIAL, PINNED, recording, register_start


def pytest_report_header():
    return [f"unit tests replay the recordings of Claude CLI {PINNED} (fixtures/PINNED)",
            f"integration tests run Claude CLI {CLI_VERSION}"]


@pytest.fixture
def settings():
    # No spares: each test registers the CLI runs it expects (tests/test_spares.py starts its own).
    return Settings(claude_path=CLAUDE, timeout=5, warm_spares=0, warm_conversations=0)


@pytest.fixture
def replay(fp):
    """Register a recorded CLI run for the next spawn of the CLI; returns the recording."""
    fp.allow_unregistered(False)

    def register(name, **overrides):
        rec = recording(name)
        stdout = "".join(line["line"] + "\n" for line in rec["stdout"])
        kwargs = {"stdout": stdout, "stderr": rec["stderr"], "returncode": rec["returncode"]}
        if rec["killed_after"] and rec["returncode"] >= 0:
            # The CLI was still running when the recorder stopped it: the fake runs until signalled.
            signalled = threading.Event()
            kwargs.update(callback=lambda process: signalled.wait(),
                          signal_callback=lambda process, sig: signalled.set())
        kwargs.update(overrides)
        fp.register([CLAUDE, fp.any()], **kwargs)
        return rec

    return register


@pytest.fixture
def app(fp, settings):
    register_start(fp)
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def check(app):
    """Validate a response body against openapi.yaml and, where one applies, the official OpenAI schema."""
    import jsonschema

    spec = app.extensions["spec"]

    def validate(operation_id, status, payload, official=None, content_type="application/json"):
        if official == "CreateChatCompletionStreamResponse":
            spec.schema_validator(official).validate(payload)
        else:
            spec.response_validator(operation_id, status, content_type).validate(payload)
        if official:
            schema = {"$ref": f"#/$defs/{official}", "$defs": OFFICIAL["$defs"]}
            jsonschema.Draft202012Validator(schema).validate(payload)
        return payload

    return validate


@pytest.fixture(autouse=True)
def _no_stray_group_kills(monkeypatch):
    """Fail a test, rather than the machine, if a group that is not a CLI's is about to be signalled."""
    import os

    real_killpg = os.killpg

    def guarded(pgid, sig):
        assert pgid > 1 and pgid != os.getpgrp(), f"refusing to signal process group {pgid}"
        return real_killpg(pgid, sig)

    monkeypatch.setattr(os, "killpg", guarded)
