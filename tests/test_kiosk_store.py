"""The kiosk's store on real SQLite files: durability settings, ids and seq, outbox states, pruning,
migrations with data in place, and failing writes that store nothing."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from hailong_core import ids as id_gen
from kiosk.migrations import MIGRATIONS, migrate
from kiosk.store import KEPT_ASIDE, PENDING, SENT, Store, StoreError

QREF = {"id": "bg-friendly-gov", "version": 1}
ICT = timezone(timedelta(hours=7))


class Clock:
    """A settable clock for the store (injected, as the store allows)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _record(store: Store, n: int = 1, **answers) -> list[dict]:
    return [store.record_response(unit_code="7201", questionnaire=QREF, answers=answers or {"overall": 4}) for _ in range(n)]


def _seqs(store: Store) -> list[int]:
    return store.read(lambda c: [r[0] for r in c.execute("SELECT seq FROM responses ORDER BY seq")])


def test_wal_and_synchronous_full(tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    assert store.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    assert store.read(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
    _record(store)
    other = sqlite3.connect(str(tmp_path / "kiosk.sqlite3"))
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    other.close()
    store.close()


def test_ids_are_uuid7_increasing_with_seq(tmp_path, monkeypatch):
    # A clock frozen on one millisecond, then stepping back: ids must still increase with seq.
    # (Far in the future: uuid7 never goes below the newest millisecond this process already used;
    # the generator's memory of it is restored afterwards so other tests see real time again.)
    monkeypatch.setattr(id_gen, "_last_ms", id_gen._last_ms)
    monkeypatch.setattr(id_gen, "_counter", id_gen._counter)
    clock = Clock(datetime(2031, 11, 28, 8, 15, 2, 123000, tzinfo=ICT))
    store = Store(tmp_path / "kiosk.sqlite3", clock=clock)
    records = _record(store, 20)
    clock.now -= timedelta(seconds=30)
    records += _record(store, 5)
    clock.now += timedelta(minutes=5)
    records += _record(store, 5)
    for r in records:
        u = uuid.UUID(r["id"])
        assert u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == r["id"]
    assert [r["seq"] for r in records] == list(range(1, 31))
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert len({r["id"] for r in records}) == 30
    # The id carries the device's millisecond.
    first_ms = uuid.UUID(records[0]["id"]).int >> 80
    assert first_ms == int(datetime(2031, 11, 28, 8, 15, 2, 123000, tzinfo=ICT).timestamp() * 1000)
    assert records[0]["created_at"] == "2031-11-28T08:15:02.123+07:00"


def test_seq_is_gap_free(tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    _record(store, 40)
    assert _seqs(store) == list(range(1, 41))
    stored = store.get_record(store.pending(1)[0]["id"])
    assert stored["state"] == PENDING and stored["record"]["seq"] == 1


def test_apply_results(tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    ids = [r["id"] for r in _record(store, 7)]
    a, b, c, d, e, f, outside = ids
    batch = [a, b, c, d, e, f]
    results = [
        {"id": a, "status": "accepted"},
        {"id": b, "status": "duplicate"},
        {"id": c, "status": "conflict", "error": {"code": "response_conflict", "message": "other content"}},
        {"id": d, "status": "rejected", "error": {"code": "invalid_answer", "message": "overall must be 1..5"}},
        {"id": outside, "status": "accepted"},           # not in this batch: ignored
        {"id": "0190e000-0000-7000-8000-000000000000", "status": "accepted"},  # unknown id: ignored
        {"id": None, "status": "rejected", "error": {"code": "invalid_item"}},  # no id: ignored
        # e and f: no answer at all, stay pending
    ]
    assert store.apply_results(batch, results) == (2, 2)
    state = {rid: store.get_record(rid) for rid in ids}
    assert state[a]["state"] == state[b]["state"] == SENT
    assert state[c]["state"] == state[d]["state"] == KEPT_ASIDE
    assert state[c]["reason"].startswith("conflict: response_conflict")
    assert "invalid_answer" in state[d]["reason"] and state[d]["reason"].startswith("rejected")
    assert state[e]["state"] == state[f]["state"] == state[outside]["state"] == PENDING
    assert store.counts() == {PENDING: 3, SENT: 2, KEPT_ASIDE: 2}
    assert [r["id"] for r in store.pending(10)] == [e, f, outside]
    assert {k["id"] for k in store.kept_aside()} == {c, d}
    assert store.status()["last_sync_at"]
    # An answer can never move a row back: a late "rejected" for a sent id changes nothing.
    assert store.apply_results([a], [{"id": a, "status": "rejected", "error": {"code": "x"}}]) == (0, 0)
    assert store.get_record(a)["state"] == SENT
    # The admin's retry puts kept-aside rows back in the queue.
    assert store.retry_kept_aside() == 2
    assert store.counts() == {PENDING: 5, SENT: 2, KEPT_ASIDE: 0}


def test_prune_sent_never_deletes_pending_or_kept_aside(tmp_path):
    clock = Clock(datetime(2026, 1, 1, 8, 0, tzinfo=ICT))
    store = Store(tmp_path / "kiosk.sqlite3", clock=clock)
    ids = [r["id"] for r in _record(store, 6)]
    store.apply_results(ids[:4], [{"id": ids[0], "status": "accepted"}, {"id": ids[1], "status": "duplicate"},
                                  {"id": ids[2], "status": "rejected", "error": {"code": "invalid_answer", "message": "m"}}])
    clock.now += timedelta(days=2)
    store.apply_results([ids[4]], [{"id": ids[4], "status": "accepted"}])  # sent recently
    clock.now += timedelta(days=365)
    assert store.prune_sent(timedelta(days=30)) == 3  # the three sent rows, however recent the last one
    assert store.counts() == {PENDING: 2, SENT: 0, KEPT_ASIDE: 1}
    assert {r["id"] for r in store.pending(10)} == {ids[3], ids[5]}


def test_prune_keeps_recently_sent(tmp_path):
    clock = Clock(datetime(2026, 1, 1, 8, 0, tzinfo=ICT))
    store = Store(tmp_path / "kiosk.sqlite3", clock=clock)
    ids = [r["id"] for r in _record(store, 2)]
    store.apply_results(ids, [{"id": i, "status": "accepted"} for i in ids])
    clock.now += timedelta(days=29)
    assert store.prune_sent(timedelta(days=30)) == 0
    assert store.counts()[SENT] == 2


def test_reopening_keeps_pending_rows_and_version(tmp_path):
    path = tmp_path / "kiosk.sqlite3"
    store = Store(path)
    ids = [r["id"] for r in _record(store, 5)]
    store.set_meta(token="t", server_url="http://x")
    store.close()
    again = Store(path)
    assert again.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == len(MIGRATIONS)
    assert [r["id"] for r in again.pending(10)] == ids
    assert again.get_meta("token") == "t"
    assert _record(again)[0]["seq"] == 6  # the counter carried over
    again.close()


def test_older_file_with_data_is_upgraded_in_place(tmp_path):
    """A file an older app left at version 1 with unsent answers: opening applies only what it lacks."""
    path = tmp_path / "kiosk.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    assert migrate(conn) == len(MIGRATIONS)
    conn.execute("UPDATE counters SET value = 2 WHERE name = 'seq'")
    for seq in (1, 2):
        conn.execute("INSERT INTO responses (seq, id, record, created_at) VALUES (?, ?, ?, ?)",
                     (seq, f"0190e000-0000-7000-8000-00000000000{seq}",
                      f'{{"id": "0190e000-0000-7000-8000-00000000000{seq}", "seq": {seq}}}', "2026-01-01T08:00:00.000+07:00"))
    conn.close()
    store = Store(path)
    assert store.counts()[PENDING] == 2
    assert [r["seq"] for r in store.pending(10)] == [1, 2]
    assert _record(store)[0]["seq"] == 3
    store.close()


def test_newer_file_is_refused(tmp_path):
    path = tmp_path / "kiosk.sqlite3"
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Store(path)


def test_failed_write_rolls_back_and_raises_store_error(tmp_path):
    """What a failing statement does: StoreError, and the whole transaction is undone."""
    store = Store(tmp_path / "kiosk.sqlite3")
    _record(store, 2)

    def half_done(c):
        c.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq'")
        c.execute("INSERT INTO nonexistent (x) VALUES (1)")

    with pytest.raises(StoreError) as info:
        store.write(half_done)
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert store.read(lambda c: c.execute("SELECT value FROM counters").fetchone()[0]) == 2
    assert not store.read(lambda c: c.in_transaction)
    assert _record(store)[0]["seq"] == 3


def test_disk_full_stores_nothing(tmp_path):
    """A real SQLITE_FULL: the file may not grow (max_page_count), as on a full disk."""
    store = Store(tmp_path / "kiosk.sqlite3")
    _record(store, 3)
    pages = store.read(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    store.read(lambda c: c.execute(f"PRAGMA max_page_count = {pages}"))
    big = {"overall": 1, "why": ["other"], "note": "x" * 20000}
    with pytest.raises(StoreError, match="full"):
        store.record_response(unit_code="7201", questionnaire=QREF, answers=big)
    assert store.counts() == {PENDING: 3, SENT: 0, KEPT_ASIDE: 0}
    assert store.read(lambda c: c.execute("SELECT value FROM counters").fetchone()[0]) == 3
    assert store.integrity_ok()


def test_locked_database_stores_nothing(tmp_path):
    """Another connection holds the write lock past the busy timeout: StoreError, nothing stored."""
    path = tmp_path / "kiosk.sqlite3"
    store = Store(path)
    _record(store)
    store.read(lambda c: c.execute("PRAGMA busy_timeout = 50"))
    blocker = sqlite3.connect(str(path), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked"):
            _record(store)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.counts()[PENDING] == 1
    assert _record(store)[0]["seq"] == 2


def test_unserialisable_answer_stores_nothing(tmp_path):
    """A programming error (a set is not JSON) surfaces as TypeError and leaves no trace or seq gap."""
    store = Store(tmp_path / "kiosk.sqlite3")
    _record(store)
    with pytest.raises((TypeError, StoreError)):
        store.record_response(unit_code="7201", questionnaire=QREF, answers={"why": {"impolite"}})
    assert store.counts() == {PENDING: 1, SENT: 0, KEPT_ASIDE: 0}
    assert _record(store)[0]["seq"] == 2
    assert _seqs(store) == [1, 2]


def test_note_error_is_kept_for_the_admin_screen(tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    store.note_error("network: refused " + "x" * 2000)
    status = store.status()
    assert status["last_error"].startswith("network: refused") and len(status["last_error"]) == 1000
    assert status["last_error_at"]
