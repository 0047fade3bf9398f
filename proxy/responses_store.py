"""Stored responses: what `store: true` keeps so that `previous_response_id` can continue a conversation.

A Store keeps, per response id, the response object and the items it was answered from (its
whole context: earlier responses' input and output, then its own input). The one implementation
is an embedded SQLite database (the standard library's sqlite3, WAL mode): safe across the
threads of a gunicorn worker (a connection each) and across workers and hosts that share the
file's directory on one machine. Several hosts behind a load balancer need one shared store: a
database all of them reach, behind this same interface (see the README).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

from .errors import ProxyError

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    response TEXT NOT NULL,
    items TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created_at ON responses (created_at);
"""
BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's write to finish
MEMORY = ":memory:"


class StoreUnavailable(ProxyError):
    status, type, code = 503, "server_error", "store_unavailable"


class Store:
    """The interface: put, get and delete stored responses by id."""

    def put(self, response, items):
        """Keep a response object (a dict with "id" and "created_at") and the items it was answered from."""
        raise NotImplementedError

    def get(self, response_id):
        """Return (response, items) for a stored id, or None."""
        raise NotImplementedError

    def delete(self, response_id):
        """Forget a response; return whether it was there."""
        raise NotImplementedError


class SQLiteStore(Store):
    """Responses in one SQLite file, created on first use; those older than retention_days are removed."""

    def __init__(self, path, retention_days=0):
        self.path, self.retention = path, retention_days * 86400
        self._local = threading.local()
        self._shared = None  # ":memory:" has one connection for all threads, under a lock
        self._lock = threading.Lock()

    def _connect(self):
        try:
            if self.path != MEMORY:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                         check_same_thread=self.path != MEMORY)
            if self.path != MEMORY:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(SCHEMA)
            return connection
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"The responses store at RESPONSES_DB={self.path!r} cannot be opened: {exc}.")

    def _run(self, statement, parameters=()):
        if self.path == MEMORY:
            with self._lock:
                self._shared = self._shared or self._connect()
                return self._shared.execute(statement, parameters).fetchall()
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        try:
            return connection.execute(statement, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"The responses store at RESPONSES_DB={self.path!r} failed: {exc}.")

    def put(self, response, items):
        self._run("INSERT OR REPLACE INTO responses (id, created_at, response, items) VALUES (?, ?, ?, ?)",
                  (response["id"], response["created_at"], json.dumps(response), json.dumps(items)))
        if self.retention:
            self._run("DELETE FROM responses WHERE created_at < ?", (time.time() - self.retention,))

    def get(self, response_id):
        rows = self._run("SELECT response, items, created_at FROM responses WHERE id = ?", (response_id,))
        if not rows or (self.retention and rows[0][2] < time.time() - self.retention):
            return None
        return json.loads(rows[0][0]), json.loads(rows[0][1])

    def delete(self, response_id):
        found = bool(self._run("SELECT 1 FROM responses WHERE id = ?", (response_id,)))
        self._run("DELETE FROM responses WHERE id = ?", (response_id,))
        return found


def open_store(settings):
    """Return the store the settings name (nothing is opened until it is first used)."""
    return SQLiteStore(settings.responses_db, settings.responses_retention_days)
