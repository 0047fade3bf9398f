"""The limit on CLI runs, the queue in front of it, and refusals with an honest Retry-After."""
import threading
import time

import pytest

from proxy.admission import Admission
from proxy.errors import AtCapacity, ClientGone, Draining

FAR = 1e12  # a deadline that never comes


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def queue_up(admission, count=1, client_gone=None):
    """Start `count` requests that must queue, in order; return their threads' outcomes (a list per thread)."""
    outcomes = []
    for _ in range(count):
        outcome = []
        queued = admission.queued

        def enter(outcome=outcome):
            try:
                outcome.append(admission.enter(FAR, client_gone))
            except Exception as error:
                outcome.append(error)

        threading.Thread(target=enter, daemon=True).start()
        wait_until(lambda: admission.queued == queued + 1)
        outcomes.append(outcome)
    return outcomes


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.005)


def test_runs_within_the_limit_start_at_once():
    admission = Admission(limit=2, queue_size=0, queue_timeout=60)
    admission.enter(FAR), admission.enter(FAR)
    assert admission.figures() == {"limit": 2, "queue_size": 0, "running": 2, "queued": 0}


def test_past_the_limit_requests_wait_and_get_slots_first_come_first_served():
    admission = Admission(limit=1, queue_size=3, queue_timeout=3600)
    first = admission.enter(FAR)
    waiting = queue_up(admission, 3)
    assert admission.figures() == {"limit": 1, "queue_size": 3, "running": 1, "queued": 3}
    admission.leave(first)
    wait_until(lambda: waiting[0])
    assert not waiting[1] and not waiting[2]
    admission.leave(waiting[0][0])
    wait_until(lambda: waiting[1])
    assert not waiting[2] and admission.figures()["running"] == 1


def test_a_full_queue_is_refused_at_once_with_retry_after():
    admission = Admission(limit=1, queue_size=1, queue_timeout=3600)
    admission.enter(FAR)
    queue_up(admission)
    with pytest.raises(AtCapacity) as caught:
        admission.enter(FAR)
    error = caught.value
    assert (error.status, error.type, error.code, error.reason) == (503, "server_error", "server_at_capacity",
                                                                    "queue_full")
    assert error.headers == {"Retry-After": "2"}  # one run of RUN_TIME_PRIOR (2 s) ahead, on 1 slot
    assert "MAX_CONCURRENCY=1" in error.message and "MAX_QUEUE=1" in error.message
    assert admission.queued == 1


def test_retry_after_spreads_refused_clients_at_the_rate_slots_free():
    clock = Clock()
    admission = Admission(limit=2, queue_size=0, queue_timeout=3600, clock=clock)
    for _ in range(2):  # two runs of 3 s: a slot frees every 1.5 s
        ticket = admission.enter(FAR)
        clock.now += 3
        admission.leave(ticket)
    admission.enter(FAR), admission.enter(FAR)
    told = []
    for _ in range(4):
        with pytest.raises(AtCapacity) as caught:
            admission.enter(FAR)
        told.append(caught.value.retry_after)
    assert told == [2, 3, 5, 6]  # 1.5, 3, 4.5, 6 s: each after the places promised before it
    clock.now += 100  # the promises have passed: the next client is told of the next slot again
    with pytest.raises(AtCapacity) as caught:
        admission.enter(FAR)
    assert caught.value.retry_after == 2


def test_a_wait_near_queue_timeout_is_refused_at_once():
    clock = Clock()
    admission = Admission(limit=1, queue_size=10, queue_timeout=30, clock=clock)
    ticket = admission.enter(FAR)
    clock.now += 10
    admission.leave(ticket)  # runs take 10 s: two queued start within 24 s (80 % of 30), a third would not
    admission.enter(FAR)
    queue_up(admission, 2)
    with pytest.raises(AtCapacity) as caught:
        admission.enter(FAR)
    assert "QUEUE_TIMEOUT=30" in caught.value.message and caught.value.reason == "queue_full"
    admission.drain()


def test_a_request_still_queued_at_queue_timeout_is_refused():
    clock = Clock()
    admission = Admission(limit=1, queue_size=1, queue_timeout=60, clock=clock)
    admission.enter(FAR)
    [waiting] = queue_up(admission)
    clock.now += 61
    wait_until(lambda: waiting)
    assert isinstance(waiting[0], AtCapacity) and waiting[0].reason == "queue_timeout"
    assert "waited 61.0 s in the queue (QUEUE_TIMEOUT=60 s" in waiting[0].message
    assert waiting[0].headers == {"Retry-After": "2"} and admission.queued == 0


def test_a_deadline_before_queue_timeout_ends_the_wait():
    admission = Admission(limit=1, queue_size=1, queue_timeout=3600)
    admission.enter(FAR)
    with pytest.raises(AtCapacity) as caught:
        admission.enter(time.monotonic() + 0.2)
    assert caught.value.reason == "queue_timeout"


def test_a_queued_request_whose_client_leaves_is_dropped_and_never_gets_a_slot():
    admission = Admission(limit=1, queue_size=1, queue_timeout=3600)
    first = admission.enter(FAR)
    gone = threading.Event()
    [waiting] = queue_up(admission, client_gone=gone.is_set)
    gone.set()
    wait_until(lambda: waiting)
    assert isinstance(waiting[0], ClientGone) and admission.queued == 0
    admission.leave(first)
    assert admission.figures()["running"] == 0


def test_a_client_gone_as_its_slot_comes_passes_the_slot_on():
    admission = Admission(limit=1, queue_size=2, queue_timeout=3600)
    first = admission.enter(FAR)
    gone = threading.Event()
    [leaving] = queue_up(admission, client_gone=gone.is_set)
    [staying] = queue_up(admission)
    gone.set()
    admission.leave(first)  # whether the slot or the look at its client reaches it first
    wait_until(lambda: leaving and staying)
    assert isinstance(leaving[0], ClientGone) and not isinstance(staying[0], Exception)
    assert admission.figures() == {"limit": 1, "queue_size": 2, "running": 1, "queued": 0}


def test_drain_refuses_new_and_queued_requests_and_lets_running_ones_finish():
    admission = Admission(limit=1, queue_size=1, queue_timeout=3600)
    running = admission.enter(FAR)
    [queued] = queue_up(admission)
    admission.drain()
    wait_until(lambda: queued)
    assert isinstance(queued[0], Draining) and queued[0].code == "server_shutting_down"
    with pytest.raises(Draining) as caught:
        admission.enter(FAR)
    assert caught.value.status == 503 and caught.value.headers == {"Retry-After": "1"}
    assert admission.full and not admission.wait_idle(0)
    admission.leave(running)
    assert admission.wait_idle(0)


def test_a_waiting_request_is_handed_the_slot_an_idle_spare_gives_back():
    # A spare started while the request was being admitted holds the last slot: the request, queued,
    # asks for it back while it waits, and is not left waiting for a run that will never end.
    admission = Admission(limit=1, queue_size=1, queue_timeout=3600)
    spare = admission.try_enter()
    asked = []

    def give_back():
        asked.append(True)
        if spare.admitted is not None and len(asked) == 2:  # not at once: while already queued
            admission.leave(spare, timed=False)

    outcome = []
    threading.Thread(target=lambda: outcome.append(admission.enter(FAR, waiting=give_back)), daemon=True).start()
    wait_until(lambda: outcome)
    assert admission.figures() == {"limit": 1, "queue_size": 1, "running": 1, "queued": 0}
    assert admission.run_time is None  # the spare's idle time says nothing of how long runs take
