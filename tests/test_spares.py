"""Spares: a request takes a matching, live, young spare bound to it; anything else runs cold."""
import json
import threading
import time

import pytest

from proxy import cli
from proxy.command import CliInput
from proxy.spares import Spare, Spares, key_of
from harness.fake_cli import make_fake_cli
from tests.support import CLAUDE, FIXTURES

HI = CliInput(model="haiku", message=({"type": "text", "text": "Say hi"},))


@pytest.fixture
def pool(settings):
    spares = Spares(settings.replace(warm_spares=1, warm_conversations=2), None, busy=lambda: False)
    yield spares
    spares.shutdown()


def waiting_spare(fp, settings):
    """A spare (a fake CLI run) that waits, as a real one does, until it is signalled."""
    signalled = threading.Event()
    fp.register([CLAUDE, fp.any()], callback=lambda process: signalled.wait(10),
                signal_callback=lambda process, sig: signalled.set())
    return cli.CliRun(settings, CliInput(model="haiku", message=()), start_input=False)


def test_a_matching_spare_is_bound_to_the_request(fp, settings, pool):
    run = waiting_spare(fp, settings)
    pool.idle.append(Spare(run, key_of("haiku", (), 1), False))
    assert pool.take(settings, HI)[0] is run
    assert run.deadline is not None  # sent its input: the deadline runs
    assert pool.stats() == {"idle": 0, "hits": 1, "misses": 0, "started": 0, "unused": 0, "enabled": True}
    run.close()


@pytest.mark.parametrize("wanted", [
    CliInput(model="sonnet", message=HI.message),
    CliInput(model="haiku", message=HI.message, max_turns=3),
    CliInput(model="haiku", message=HI.message, history=(("user", ({"type": "text", "text": "Hi"},)),
                                                          ("assistant", ({"type": "text", "text": "Hello"},)))),
], ids=["another model", "more turns", "a history"])
def test_a_request_the_spare_was_not_started_for_runs_cold(fp, settings, pool, wanted):
    run = waiting_spare(fp, settings)
    pool.idle.append(Spare(run, key_of("haiku", (), 1), False))
    assert pool.take(settings, wanted) is None
    assert pool.stats()["misses"] == 1 and pool.idle


def test_a_dead_spare_is_passed_over(fp, settings, pool):
    fp.register([CLAUDE, fp.any()], returncode=1)
    run = cli.CliRun(settings, CliInput(model="haiku", message=()), start_input=False)
    run.proc.wait()
    pool.idle.append(Spare(run, key_of("haiku", (), 1), False))
    assert pool.take(settings, HI) is None


def test_a_spare_older_than_the_limit_is_passed_over(fp, settings, pool):
    run = waiting_spare(fp, settings)
    run.started = time.monotonic() - pool.max_age - 1
    pool.idle.append(Spare(run, key_of("haiku", (), 1), False))
    assert pool.take(settings, HI) is None


def test_a_spare_that_refuses_its_control_requests_is_reaped_and_the_request_runs_cold(settings, pool, caplog,
                                                                                        tmp_path):
    # The fake CLI replays the recorded CLI that answered a set_model it could not apply with an error.
    settings = settings.replace(claude_path=make_fake_cli(tmp_path, FIXTURES, pace=0))
    run = cli.CliRun(settings, CliInput(model="opus", message=()), start_input=False)
    pool.idle.append(Spare(run, key_of("haiku", (), 1), False))  # so it is bound with set_model haiku
    refused = CliInput(model="haiku", message=({"type": "text", "text": "Say hi [stub:control_refused]"},))
    with caplog.at_level("WARNING"):
        assert pool.take(settings, refused) is None
    assert not run.alive and pool.stats()["misses"] == 1 and pool.stats()["unused"] == 1
    assert "is not a recognized model id" in caplog.text


def test_starts_and_spares_reaped_without_serving_are_counted(fp, settings, pool):
    for _ in range(2):  # CLIs that wait, as real ones do, until signalled
        signalled = threading.Event()
        fp.register([CLAUDE, fp.any()], callback=lambda process, s=signalled: s.wait(10),
                    signal_callback=lambda process, sig, s=signalled: s.set())
    assert pool._spawn("haiku", (), 1, conversation=False) and pool._spawn("haiku", (), 1, conversation=False)
    assert pool.take(settings, HI) is not None  # one serves a request
    pool.shutdown()  # the other never does
    assert {k: pool.stats()[k] for k in ("started", "hits", "unused", "idle")} == {
        "started": 2, "hits": 1, "unused": 1, "idle": 0}


def test_conversation_spares_are_started_only_while_predictions_are_followed(fp, settings, pool):
    history = (("user", ({"type": "text", "text": "Hi"},)), ("assistant", ({"type": "text", "text": "Hello"},)))
    pool.expect("haiku", history, 1)
    assert pool.wanted == []  # nothing followed yet: one-off requests would waste every start
    follow_up = CliInput(model="haiku", message=({"type": "text", "text": "And?"},), history=history)
    assert pool.take(settings, follow_up) is None  # it came, cold: predictions are followed
    pool.expect("haiku", history + (("user", ({"type": "text", "text": "And?"},)),
                                    ("assistant", ({"type": "text", "text": "So."},))), 1)
    assert len(pool.wanted) == 1


def test_conversation_spares_are_bounded_and_dropped_first_when_busy(pool):
    pool.followed.append(True)
    for n in range(3):
        pool.expect("haiku", (("user", ({"type": "text", "text": f"{n}"},)),), 1)
    assert [json.loads(k[2])[0][1][0]["text"] for k, _ in pool.wanted] == ["1", "2"]
    pool.give_back()
    assert pool.wanted == []


def test_with_no_slot_free_the_pool_waits_rather_than_spins(settings):
    # Every slot held (by requests, or by other spares): asking for one again at once would burn a core.
    asked = []
    pool = Spares(settings.replace(warm_spares=1, warm_conversations=0), None, busy=lambda: False,
                  acquire=lambda: asked.append(time.monotonic()))
    pool.start()
    try:
        deadline = time.monotonic() + 10
        while not asked:
            assert time.monotonic() < deadline, "the pool never asked for a slot"
            time.sleep(0.01)
        time.sleep(0.5)  # a spinning pool asks thousands of times in this while
    finally:
        pool.shutdown()
    assert len(asked) <= 2 and pool.idle == []
