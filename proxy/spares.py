"""CLIs started ahead of requests ("spares"), so that a request does not wait for the CLI to start.

Starting the CLI is most of a short request. A spare is started with what the CLI must know at
start-up (the transcript to resume, the number of model turns), and with the model (the CLI
resolves some model names differently when told later), and waits on its stream-json input; a
request whose model, transcript and turns match is bound to it with control requests for the
rest (system prompt, schema, effort, output limit: command.stdin_lines), and the upstream
request is the one a cold run would send. Two kinds:

- generic spares, with no history: any single-turn request can take one (WARM_SPARES of them);
- conversation spares: when a request is answered, its conversation's next request is known up
  to its new user turn, so a spare is started resumed at that transcript (WARM_CONVERSATIONS at
  most, the oldest dropped first), while most of the recent predictions were followed by their
  request (so that clients of one-off requests cost no extra starts: a start is moved, not added).

Spares are started only while no request runs (a start costs a core for most of a second, which a
running request would feel), are dropped when older than WARM_MAX_AGE or dead, and at start-up a
canary (canary.py) turns the pool off if this CLI's warm and cold requests differ.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import threading
import time

from . import cli
from .command import CliInput, stdin_lines

log = logging.getLogger("proxy")
BIND_TIMEOUT = 10.0  # seconds a spare has to answer its control requests before the request runs cold
FOLLOW_UPS = 20  # recent predictions whose outcome decides whether conversation spares are started
PENDING = 32  # predictions awaited at once; an older one is counted as not followed


@dataclasses.dataclass
class Spare:
    run: cli.CliRun
    key: tuple
    conversation: bool
    ticket: object = None  # the admission slot it holds


def key_of(model, history, max_turns):
    """What a spare must have been started with to serve a request: its model, transcript and turns."""
    return model, max_turns, json.dumps(list(history), sort_keys=True, ensure_ascii=False)


class Spares:
    """The pool of one worker.

    busy() tells whether a request runs or waits; acquire() returns a slot for a spare, or None
    (never waiting); started(run) is told of each spare's CLI, ended(run, slot) of each reaped
    without serving a request.
    """

    def __init__(self, settings, seeds, busy, acquire=lambda: True, started=lambda run: None,
                 ended=lambda run, slot: None, enabled=True):
        self.settings, self.seeds, self.busy = settings, seeds, busy
        self.acquire, self.started, self.ended = acquire, started, ended
        self.size, self.conversations, self.max_age = settings.warm_spares, settings.warm_conversations, \
            settings.warm_max_age
        self.enabled = enabled and (self.size > 0 or self.conversations > 0)
        self.idle = []  # Spares ready (or starting), oldest first
        self.stale = []  # Spares to reap
        self.wanted = []  # conversation keys to start spares for, newest last
        self.generic = (settings.model, 1)  # model and turns of generic spares: the last single-turn request's
        self.hits = self.misses = 0
        self.starts = self.unused = 0  # spares started; reaped without serving a request
        # Predicted next requests (key -> when), and whether recent ones came: a conversation spare is
        # started only while most predictions are followed, so one-off requests waste no starts.
        self.predicted = collections.OrderedDict()
        self.followed = collections.deque(maxlen=FOLLOW_UPS)
        self.lock = threading.Condition()
        self.stopped = False
        self.thread = None

    def start(self, check=None):
        """Start filling the pool in the background, once check() (the canary) says warm runs are faithful."""
        if self.enabled:
            self.thread = threading.Thread(target=self._fill, args=(check,), daemon=True, name="spares")
            self.thread.start()

    def take(self, settings, cli_input, deadline=None):
        """Return (a spare's run bound to cli_input, the slot it holds), or None (the request then runs cold)."""
        if not self.enabled or cli_input.thinking:  # thinking is set at start-up: those requests run cold
            return None
        key = key_of(cli_input.model, cli_input.history, cli_input.max_turns)
        with self.lock:
            if self.predicted.pop(key, None) is not None:
                self.followed.append(True)
            if not cli_input.history:
                self.generic = (cli_input.model, cli_input.max_turns)
            spare = next((s for s in self.idle if s.key == key and self._fresh(s)), None)
            if spare is None:
                self.misses += 1
                self.lock.notify()
                return None
            self.idle.remove(spare)
        spare.run.send(settings, cli_input, deadline)
        sent = [line["request_id"] for line in stdin_lines(cli_input, spare.run.spawned)
                if line["type"] == "control_request"]
        errors = spare.run.control_errors(sent, BIND_TIMEOUT) if sent else []
        if errors:
            log.warning("A spare CLI refused its control requests (%s); the request runs cold.", "; ".join(errors))
            self._reap([spare])
            with self.lock:
                self.misses += 1
            return None
        with self.lock:
            self.hits += 1
        return spare.run, spare.ticket

    def expect(self, model, history, max_turns):
        """Note that the conversation's next request will resume history: start a spare for it when idle,
        if recent predictions were mostly followed."""
        if not self.enabled or self.conversations <= 0 or history is None:
            return
        key = key_of(model, history, max_turns)
        with self.lock:
            self._forget(time.monotonic())
            self.predicted[key] = time.monotonic()
            if self.followed and sum(self.followed) * 2 >= len(self.followed):
                self.wanted = [k for k in self.wanted if k[0] != key] + [(key, history)]
                del self.wanted[:-self.conversations]
                self.lock.notify()

    def _forget(self, now):
        """Count predictions not followed within WARM_MAX_AGE (or past the last PENDING) as not followed."""
        while self.predicted and (len(self.predicted) > PENDING
                                  or now - next(iter(self.predicted.values())) > self.max_age):
            self.predicted.popitem(last=False)
            self.followed.append(False)

    def give_back(self):
        """Reap one idle spare, a conversation's first, so that its slot goes to a request."""
        with self.lock:
            order = sorted(self.idle, key=lambda s: not s.conversation)
            drop = order[:1]
            self.idle = [s for s in self.idle if s not in drop]
            self.wanted = []  # the machine is busy: conversations are the first to go
        self._reap(drop)

    def wake(self):
        with self.lock:
            self.lock.notify()

    def stats(self):
        with self.lock:
            return {"idle": len(self.idle), "hits": self.hits, "misses": self.misses, "started": self.starts,
                    "unused": self.unused, "enabled": self.enabled}

    def shutdown(self):
        """Reap every spare; no spare outlives this."""
        with self.lock:
            self.stopped = True
            spares, self.idle = self.idle, []
            self.lock.notify_all()
        self._reap(spares)

    def _reap(self, spares):
        with self.lock:
            self.unused += len(spares)
        for spare in spares:
            try:
                spare.run.close()
            finally:
                self.ended(spare.run, spare.ticket)

    def _fresh(self, spare):
        return spare.run.alive and time.monotonic() - spare.run.started < self.max_age

    def _fill(self, check):
        if check is not None and not check():
            self.enabled = False
            return
        while True:
            with self.lock:
                if self.stopped:
                    return
                self.stale += [s for s in self.idle if not self._fresh(s)]
                self.idle = [s for s in self.idle if self._fresh(s)]
                job = None if self.busy() else self._next_job()
                stale, self.stale = self.stale, []
                if job is None and not stale:
                    self.lock.wait(timeout=1.0)
            self._reap(stale)
            if job is not None and not self._spawn(*job):
                with self.lock:  # no free slot: wait for one (a request's end, or a spare's) rather than spin
                    self.lock.wait(timeout=1.0)

    def _next_job(self):
        """Return (model, history, max_turns, conversation) of the spare to start next, or None."""
        if self.wanted:
            (key, history) = self.wanted.pop()
            if not any(s.key == key for s in self.idle):
                return key[0], history, key[1], True
        generic = [s for s in self.idle if not s.conversation]
        model, turns = self.generic
        for spare in generic:
            if spare.key[:2] != (model, turns):  # started for what requests no longer ask
                self.idle.remove(spare)
                self.stale.append(spare)
        if sum(s.key[:2] == (model, turns) for s in generic) < self.size:
            return model, (), turns, False
        return None

    def _spawn(self, model, history, max_turns, conversation):
        """Start a spare; return False when no slot was free for it."""
        spawned = CliInput(model=model, message=(), history=tuple(history), max_turns=max_turns)
        ticket = self.acquire()
        if ticket is None:  # every slot is taken: a spare would be one CLI too many
            if conversation:
                with self.lock:  # still wanted once a slot frees
                    self.wanted.insert(0, (key_of(model, history, max_turns), history))
            return False
        try:
            run = cli.CliRun(self.settings, spawned, self.seeds, start_input=False)
        except Exception as exc:  # a missing CLI: requests report it; the pool stops trying
            log.warning("Could not start a spare CLI (%s); requests run cold.", exc)
            self.ended(None, ticket)
            self.enabled = False
            with self.lock:
                self.stopped = True
            return False
        self.started(run)
        with self.lock:
            self.starts += 1
        spare = Spare(run, key_of(model, history, max_turns), conversation, ticket)
        drop = []
        with self.lock:
            if self.stopped:
                drop.append(spare)
            else:
                self.idle.append(spare)
                conversations = [s for s in self.idle if s.conversation]
                drop += conversations[:-self.conversations] if self.conversations else conversations
                self.idle = [s for s in self.idle if s not in drop]
        self._reap(drop)
        return True
