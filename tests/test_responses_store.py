"""The responses store: SQLite on disk, shared by threads and processes, with retention."""
import multiprocessing
import sqlite3
import threading
import time

import pytest

from proxy.config import Settings
from proxy.responses_store import SQLiteStore, StoreUnavailable, open_store


def response(response_id, created_at=None):
    return {"id": response_id, "object": "response", "created_at": created_at or time.time(), "output": []}


def test_a_response_and_its_items_come_back_by_id(tmp_path):
    store = SQLiteStore(str(tmp_path / "r.db"))
    store.put(response("resp_1"), [{"type": "message", "role": "user", "content": []}])
    got, items = store.get("resp_1")
    assert got["id"] == "resp_1" and items == [{"type": "message", "role": "user", "content": []}]
    assert store.get("resp_2") is None


def test_the_database_is_created_on_first_use_in_a_private_directory(tmp_path):
    path = tmp_path / "state" / "proxy" / "r.db"
    store = SQLiteStore(str(path))
    assert not path.parent.exists()
    store.get("resp_1")
    assert path.exists() and (path.parent.stat().st_mode & 0o777) == 0o700


def test_responses_outlive_the_process_that_stored_them(tmp_path):
    SQLiteStore(str(tmp_path / "r.db")).put(response("resp_1"), [])
    assert SQLiteStore(str(tmp_path / "r.db")).get("resp_1")[0]["id"] == "resp_1"


def test_the_journal_is_write_ahead(tmp_path):
    SQLiteStore(str(tmp_path / "r.db")).put(response("resp_1"), [])
    with sqlite3.connect(tmp_path / "r.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_delete_says_whether_the_response_was_there(tmp_path):
    store = SQLiteStore(str(tmp_path / "r.db"))
    store.put(response("resp_1"), [])
    assert store.delete("resp_1") is True
    assert store.get("resp_1") is None and store.delete("resp_1") is False


def test_responses_older_than_the_retention_are_gone(tmp_path):
    store = SQLiteStore(str(tmp_path / "r.db"), retention_days=1)
    store.put(response("resp_old", time.time() - 2 * 86400), [])
    assert store.get("resp_old") is None
    store.put(response("resp_new"), [])
    with sqlite3.connect(tmp_path / "r.db") as connection:
        assert [r[0] for r in connection.execute("SELECT id FROM responses")] == ["resp_new"]


def test_no_retention_keeps_old_responses(tmp_path):
    store = SQLiteStore(str(tmp_path / "r.db"), retention_days=0)
    store.put(response("resp_old", 1.0), [])
    assert store.get("resp_old") is not None


def test_threads_write_and_read_at_once(tmp_path):
    store = SQLiteStore(str(tmp_path / "r.db"))
    threads = [threading.Thread(target=lambda n=n: [store.put(response(f"resp_{n}_{i}"), []) for i in range(20)])
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(store.get(f"resp_{n}_{i}") for n in range(8) for i in range(20))


def _write_many(path, prefix):
    store = SQLiteStore(path)
    for i in range(30):
        store.put(response(f"{prefix}_{i}"), [{"n": i}])


def test_processes_share_one_database(tmp_path):
    path = str(tmp_path / "r.db")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, f"resp_p{n}")) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    store = SQLiteStore(path)
    assert all(store.get(f"resp_p{n}_{i}")[1] == [{"n": i}] for n in range(3) for i in range(30))


def test_a_memory_store_is_shared_by_threads():
    store = SQLiteStore(":memory:")
    thread = threading.Thread(target=lambda: store.put(response("resp_1"), []))
    thread.start()
    thread.join()
    assert store.get("resp_1") is not None


def test_an_unusable_path_is_a_503_naming_responses_db(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreUnavailable) as caught:
        SQLiteStore(str(tmp_path / "file" / "r.db")).get("resp_1")
    assert caught.value.status == 503 and "RESPONSES_DB=" in caught.value.message


def test_the_default_database_is_under_the_state_directory():
    settings = Settings.from_env({"HOME": "/home/u"})
    assert settings.responses_db == "/home/u/.local/state/claude-cli-proxy/responses.sqlite3"
    assert Settings.from_env({"XDG_STATE_HOME": "/s", "RESPONSES_RETENTION_DAYS": "7"}).responses_db == (
        "/s/claude-cli-proxy/responses.sqlite3")
    assert open_store(Settings.from_env({"RESPONSES_DB": "/x/r.db"})).path == "/x/r.db"
