"""Admission: at most MAX_CONCURRENCY CLI runs at once, a bounded queue in front, and honest refusals.

A request takes a slot (enter) and gives it back once its CLI is reaped (leave). When every slot is
taken it waits in a first-in, first-out queue until a slot is handed to it, its client leaves, its
QUEUE_TIMEOUT or deadline passes, or the server drains. It is refused at once when the queue is full,
or when the wait it would face there, at the recent run times, would take most of QUEUE_TIMEOUT.

Retry-After: with every slot busy, one frees every (recent run time / limit) seconds on average. Each
refused client is told of the next such moment that no client refused before it was told of, so that
clients which obey come back spread out at the rate the server can take them, not all in one second.
"""
from __future__ import annotations

import collections
import math
import threading
import time

from .errors import AtCapacity, ClientGone, Draining

TICK = 0.5  # seconds between looks at a queued request's client
RUN_TIME_PRIOR = 2.0  # seconds a run is taken to hold its slot until runs have been timed
WEIGHT = 0.2  # of the latest run in the running average of run times
# A request is queued only if it should start within this share of QUEUE_TIMEOUT: the last one let in
# should not have even odds of waiting it all out and being refused late, when runs slow a little.
MARGIN = 0.8


class Ticket:
    """One request's claim on a slot: granted at once, or once it reaches the head of the queue."""

    def __init__(self, asked):
        self.asked = asked
        self.admitted = None  # when the slot became this request's
        self.refusal = None  # why a queued request was turned away (the server drains)
        self.ready = threading.Event()


class Admission:
    """The slots for CLI runs and the queue in front of them, shared by every thread of the process."""

    def __init__(self, limit, queue_size, queue_timeout, clock=time.monotonic):
        self.limit, self.queue_size, self.queue_timeout = limit, queue_size, queue_timeout
        self.clock = clock
        self.running = 0  # slots taken
        self.draining = False
        self.run_time = None  # running average of how long a run holds its slot, once one has
        self._queue = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._promised = 0.0  # the latest moment a refused client was told to come back

    @property
    def queued(self):
        return len(self._queue)

    def figures(self):
        """Return the limit, the queue's size, and how many runs are running and queued now."""
        with self._lock:
            return {"limit": self.limit, "queue_size": self.queue_size, "running": self.running,
                    "queued": len(self._queue)}

    @property
    def full(self):
        """True when a request arriving now would be refused."""
        with self._lock:
            return self.draining or (self.running >= self.limit and len(self._queue) >= self._room())

    def enter(self, deadline, client_gone=None, waiting=None):
        """Return a Ticket holding a slot, once one is free; wait in the queue until then.

        waiting(), if given, is called while the request waits (at once, then every TICK), outside
        any lock: the manager gives back a slot an idle spare holds. Raises AtCapacity (the queue is
        full, or the wait there would be or was too long), Draining, or ClientGone (the client left
        while queued: no CLI is started for it).
        """
        with self._lock:
            now = self.clock()
            ticket = Ticket(now)
            if self.draining:
                raise self._draining()
            if self.running < self.limit and not self._queue:
                self.running += 1
                ticket.admitted = now
                return ticket
            if len(self._queue) >= self._room():
                raise self._full(now)
            self._queue.append(ticket)
        return self._wait(ticket, min(deadline, ticket.asked + self.queue_timeout), client_gone or (lambda: False),
                          waiting or (lambda: None))

    def try_enter(self):
        """Return a Ticket if a slot is free and nobody waits for one, else None (never waits)."""
        with self._lock:
            if self.draining or self.running >= self.limit or self._queue:
                return None
            self.running += 1
            ticket = Ticket(self.clock())
            ticket.admitted = ticket.asked
            return ticket

    def restart(self, ticket):
        """A slot held ahead of a request (a spare's) is now the request's: its run time counts from here."""
        ticket.admitted = self.clock()

    @property
    def saturated(self):
        """True when every slot is taken."""
        with self._lock:
            return self.running >= self.limit

    def _wait(self, ticket, until, client_gone, waiting):
        waiting()
        while not ticket.ready.wait(max(0.0, min(TICK, until - self.clock()))):
            waiting()
            gone = client_gone()
            if gone or self.clock() >= until:
                with self._lock:
                    if not ticket.ready.is_set():  # not handed a slot meanwhile
                        self._queue.remove(ticket)
                        if gone:
                            raise ClientGone()
                        raise self._timed_out(self.clock(), ticket)
        if ticket.refusal is not None:
            raise ticket.refusal
        if client_gone():  # it left in the moment the slot came: the slot goes on, unused
            with self._lock:
                self._hand_on(self.clock())
            raise ClientGone()
        return ticket

    def leave(self, ticket, timed=True):
        """Give a ticket's slot back, to the head of the queue if anyone waits.

        timed=False: the slot held no run (a spare's, given back unused), so it says nothing of run times.
        """
        with self._lock:
            now = self.clock()
            held = now - ticket.admitted
            if timed:
                self.run_time = held if self.run_time is None else self.run_time + WEIGHT * (held - self.run_time)
            self._hand_on(now)

    def _hand_on(self, now):
        if self._queue:
            head = self._queue.popleft()
            head.admitted = now
            head.ready.set()
        else:
            self.running -= 1
            if not self.running:
                self._idle.notify_all()

    def drain(self):
        """Take no new requests and turn the queued ones away; runs already admitted go on."""
        with self._lock:
            self.draining = True
            while self._queue:
                ticket = self._queue.popleft()
                ticket.refusal = self._draining()
                ticket.ready.set()

    def wait_idle(self, seconds):
        """Wait up to seconds for every slot to be given back; tell whether they all were."""
        until = time.monotonic() + seconds
        with self._idle:
            while self.running and time.monotonic() < until:
                self._idle.wait(until - time.monotonic())
            return not self.running

    # --- how long a client should wait before it comes back ------------------------------------

    def _gap(self):
        """Seconds between slots freeing, on average, while every slot is busy."""
        return (self.run_time if self.run_time is not None else RUN_TIME_PRIOR) / self.limit

    def _room(self):
        """How many may queue: MAX_QUEUE, or fewer when more could not start well within QUEUE_TIMEOUT."""
        return min(self.queue_size, math.floor(MARGIN * self.queue_timeout / self._gap()))

    def _retry_after(self, now):
        """Seconds until a place should free up for one more client, after those already told to come back."""
        gap = self._gap()
        self._promised = max(now + gap, self._promised + gap)
        return max(1, math.ceil(self._promised - now))

    def _full(self, now):
        retry_after = self._retry_after(now)
        queued = len(self._queue)
        why = (f"the queue is full (MAX_QUEUE={self.queue_size})" if queued >= self.queue_size else
               f"{queued} requests are queued, as many as can start well within QUEUE_TIMEOUT={self.queue_timeout:g} s "
               f"at the recent {self._gap() * self.limit:.1f} s per run")
        return AtCapacity(f"The server is at capacity: {self.running} CLI runs at once "
                          f"(MAX_CONCURRENCY={self.limit}) and {why}. Retry after {retry_after} s.",
                          retry_after, reason="queue_full")

    def _timed_out(self, now, ticket):
        retry_after = self._retry_after(now)
        return AtCapacity(f"The server is at capacity: the request waited {now - ticket.asked:.1f} s in the queue "
                          f"(QUEUE_TIMEOUT={self.queue_timeout:g} s, or its CLAUDE_TIMEOUT) for one of "
                          f"{self.limit} CLI slots. Retry after {retry_after} s.", retry_after, reason="queue_timeout")

    def _draining(self):
        # Another instance, or this one restarted, can take the request at once.
        return Draining("The server is shutting down: it finishes the answers it has begun and takes no new "
                        "requests. Retry after 1 s.", 1, reason="draining")
