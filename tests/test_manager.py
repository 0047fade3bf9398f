"""The manager: a slot before each CLI, the queue's time inside the deadline, refusals as envelopes, drain."""
import threading
import time

import pytest

from proxy.command import CliInput
from proxy.errors import ClientGone, Draining
from proxy.manager import Manager
from proxy.requestlog import Record
from tests.support import CLAUDE

ASK = CliInput(model="haiku", message=({"type": "text", "text": "hi"},))
FAR = 1e12


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.005)


def start_queued(manager, settings, client_gone=None, record=None):
    """Ask for a run from another thread, as a second request would; return its outcome list once queued."""
    outcome = []

    def start():
        try:
            outcome.append(manager.start(settings, ASK, client_gone, record))
        except Exception as error:
            outcome.append(error)

    queued = manager.admission.queued
    threading.Thread(target=start, daemon=True).start()
    wait_until(lambda: manager.admission.queued == queued + 1)
    return outcome


def test_time_in_the_queue_counts_towards_the_deadline(settings, replay):
    replay("success"), replay("success")
    manager = Manager(settings.replace(hide_host=False, max_concurrency=1))
    first = manager.start(settings, ASK)
    second = start_queued(manager, settings)
    freed_at = time.monotonic()
    manager.release(first)
    wait_until(lambda: second)
    assert second[0].deadline - settings.timeout < freed_at  # counted from the ask, not from the slot
    manager.release(second[0])
    assert manager.admission.figures()["running"] == 0


def test_a_queued_request_whose_client_leaves_never_starts_a_cli(settings, replay, fp):
    replay("success")
    manager = Manager(settings.replace(hide_host=False, max_concurrency=1, max_queue=1))
    first = manager.start(settings, ASK)
    gone, record = threading.Event(), Record()
    outcome = start_queued(manager, settings, gone.is_set, record)
    gone.set()
    wait_until(lambda: outcome)
    manager.release(first)
    assert isinstance(outcome[0], ClientGone)
    assert fp.call_count([CLAUDE, "-p", fp.any()]) == 1, list(fp.calls)
    assert record.admission == "client_gone" and record.queue_wait > 0
    assert manager.admission.figures() == {"limit": 1, "queue_size": 1, "running": 0, "queued": 0}


def test_a_refusal_is_the_front_door_s_envelope_with_retry_after(fp, settings, check):
    from proxy import create_app
    from tests.support import register_start

    register_start(fp)
    app = create_app(settings.replace(max_concurrency=1, max_queue=0))
    app.extensions["manager"].admission.enter(FAR)  # the one slot, taken
    client = app.test_client()
    for stream, retry_after in ((False, "2"), (True, "4")):  # the second told of the slot after the first's
        response = client.post("/v1/chat/completions", json={
            "model": "haiku", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
        body = check("createChatCompletion", 503, response.get_json(), "ErrorResponse")
        assert response.status_code == 503 and response.headers["Retry-After"] == retry_after
        assert body["error"]["type"] == "server_error" and body["error"]["code"] == "server_at_capacity"
    # no CLI run for the requests: only the --version probes and the start-up captures of the apps
    assert not [call for call in fp.calls if "--no-session-persistence" in call]


def test_drain_refuses_new_runs_and_kills_those_still_running_when_its_time_is_up(settings, tmp_path):
    script = tmp_path / "claude"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    settings = settings.replace(claude_path=str(script))
    manager = Manager(settings.replace(hide_host=False))
    run = manager.start(settings, ASK)
    manager.drain(0)
    assert run.proc.poll() is not None
    with pytest.raises(Draining):
        manager.start(settings, ASK)
    manager.release(run)
    assert manager.admission.figures()["running"] == 0
