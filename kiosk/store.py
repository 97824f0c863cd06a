"""The kiosk's durable store: answers, their outbox state, and sync bookkeeping. No Qt.

One :class:`Store` owns the SQLite connection (WAL, ``synchronous=FULL``). Every change goes
through :meth:`Store.write`, one explicit ``BEGIN IMMEDIATE`` transaction per citizen action, so
a response's id and sequence number are born in the same transaction that stores it, and the
thank-you screen is only shown after that transaction committed.

Outbox states: ``pending`` (not yet acknowledged), ``sent`` (the server answered accepted or
duplicate), ``kept_aside`` (the server answered conflict or rejected; kept with its reason for
the admin screen, never retried forever). Nothing that is not ``sent`` is ever deleted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from hailong_core.ids import uuid7
from hailong_core.timeutil import format_rfc3339, now_local
from kiosk.migrations import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

PENDING, SENT, KEPT_ASIDE = "pending", "sent", "kept_aside"


class StoreError(Exception):
    """The local database could not commit (disk full, I/O error, locked): nothing was stored."""


class Store:
    """The single owner of the kiosk's SQLite connection; safe to share between threads."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = now_local):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each action is one transaction.
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=5.0)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- the one write path ----------------------------------------------------------------

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one ``BEGIN IMMEDIATE`` transaction and commit it.

        Raises :class:`StoreError` when anything fails; the transaction is then rolled back and
        nothing of it is stored.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(self._conn)
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                log.error("kiosk store write failed: %s", exc)
                raise StoreError(str(exc)) from exc
            return result

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only ``fn(conn)``; raises :class:`StoreError` on database errors."""
        with self._lock:
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    # --- responses ---------------------------------------------------------------------------

    def record_response(self, *, unit_code: str, questionnaire: dict, answers: dict,
                        officer_id: str | None = None, flags: Iterable[str] = (), channel: str = "kiosk") -> dict:
        """Store one citizen's answer durably and return its record (with ``id`` and ``seq``).

        The id (UUIDv7) and the device sequence number are made inside the transaction.
        """
        flag_list = sorted(set(flags))

        def tx(conn: sqlite3.Connection) -> dict:
            seq = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value").fetchone()[0]
            now = self._clock()
            record = {
                "id": uuid7(int(now.timestamp() * 1000)),
                "seq": seq,
                "unit_code": unit_code,
                "officer_id": officer_id,
                "questionnaire": {"id": questionnaire["id"], "version": questionnaire["version"]},
                "channel": channel,
                "created_at": format_rfc3339(now),
                "answers": answers,
                "flags": flag_list,
            }
            conn.execute(
                "INSERT INTO responses (seq, id, record, created_at, state) VALUES (?, ?, ?, ?, 'pending')",
                (seq, record["id"], json.dumps(record, ensure_ascii=False, separators=(",", ":")), record["created_at"]),
            )
            return record

        return self.write(tx)

    def pending(self, limit: int) -> list[dict]:
        """The oldest unacknowledged records, in device order, at most ``limit``."""
        rows = self.read(lambda c: c.execute(
            "SELECT record FROM responses WHERE state = 'pending' ORDER BY seq LIMIT ?", (limit,)).fetchall())
        return [json.loads(r[0]) for r in rows]

    def apply_results(self, sent_ids: Iterable[str], results: list[dict]) -> tuple[int, int]:
        """Mark what the server answered for a batch; return ``(sent, kept_aside)``.

        Only ids that were in the batch are touched. ``accepted``/``duplicate`` → sent;
        ``conflict``/``rejected`` → kept aside with the server's reason. Ids with no answer stay
        pending and go again next time.
        """
        batch = set(sent_ids)
        now = format_rfc3339(self._clock())
        to_send: list[tuple] = []
        to_keep: list[tuple] = []
        for item in results:
            rid = item.get("id")
            if rid not in batch:
                continue
            status = item.get("status")
            if status in ("accepted", "duplicate"):
                to_send.append((now, rid))
            elif status in ("conflict", "rejected"):
                error = item.get("error") or {}
                reason = f"{status}: {error.get('code', '?')}: {error.get('message', '')}".strip()
                to_keep.append((reason[:500], now, rid))

        def tx(conn: sqlite3.Connection) -> tuple[int, int]:
            # Count the rows actually changed: an answer for a row no longer pending changes nothing.
            sent = conn.executemany("UPDATE responses SET state = 'sent', sent_at = ?, reason = NULL WHERE id = ? AND state = 'pending'", to_send).rowcount
            kept = conn.executemany("UPDATE responses SET state = 'kept_aside', reason = ?, sent_at = ? WHERE id = ? AND state = 'pending'", to_keep).rowcount
            _set_meta(conn, "last_sync_at", now)
            return max(sent, 0), max(kept, 0)

        return self.write(tx)

    def keep_aside(self, response_id: str, reason: str) -> None:
        """Set one pending response aside (e.g. the server refused it alone as too large)."""
        self.write(lambda c: c.execute("UPDATE responses SET state = 'kept_aside', reason = ? WHERE id = ? AND state = 'pending'",
                                       (reason[:500], response_id)))

    def retry_kept_aside(self) -> int:
        """Put every kept-aside response back in the queue (an admin action after a fix)."""
        return self.write(lambda c: c.execute("UPDATE responses SET state = 'pending', reason = NULL WHERE state = 'kept_aside'").rowcount)

    def kept_aside(self, limit: int = 100) -> list[dict]:
        """Kept-aside responses with their reasons, newest first, for the admin screen."""
        rows = self.read(lambda c: c.execute(
            "SELECT id, seq, created_at, reason FROM responses WHERE state = 'kept_aside' ORDER BY seq DESC LIMIT ?", (limit,)).fetchall())
        return [dict(r) for r in rows]

    def get_record(self, response_id: str) -> dict | None:
        row = self.read(lambda c: c.execute("SELECT record, state, reason FROM responses WHERE id = ?", (response_id,)).fetchone())
        if row is None:
            return None
        return {"record": json.loads(row[0]), "state": row[1], "reason": row[2]}

    def prune_sent(self, older_than: timedelta) -> int:
        """Delete acknowledged responses sent longer ago than ``older_than``; never anything else."""
        cutoff = format_rfc3339(self._clock() - older_than)
        return self.write(lambda c: c.execute("DELETE FROM responses WHERE state = 'sent' AND sent_at < ?", (cutoff,)).rowcount)

    def counts(self) -> dict[str, int]:
        rows = self.read(lambda c: c.execute("SELECT state, COUNT(*) FROM responses GROUP BY state").fetchall())
        out = {PENDING: 0, SENT: 0, KEPT_ASIDE: 0}
        out.update({r[0]: r[1] for r in rows})
        return out

    # --- settings of the device and sync bookkeeping -----------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.read(lambda c: c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return json.loads(row[0]) if row else default

    def set_meta(self, **values: Any) -> None:
        def tx(conn):
            for key, value in values.items():
                _set_meta(conn, key, value)
        self.write(tx)

    def note_error(self, message: str) -> None:
        """Keep the last sync or storage error where IT staff will see it (status, admin screen)."""
        log.warning("kiosk error: %s", message)
        try:
            self.set_meta(last_error=message[:1000], last_error_at=format_rfc3339(self._clock()))
        except StoreError:
            log.exception("could not record the error in the database")

    def status(self) -> dict:
        """Everything ``hailong-kiosk status`` and the admin screen show."""
        counts = self.counts()
        meta = dict(self.read(lambda c: c.execute("SELECT key, value FROM meta").fetchall()))
        get = lambda k: json.loads(meta[k]) if k in meta else None  # noqa: E731
        return {
            "enrolled": get("token") is not None,
            "device_id": get("device_id"),
            "unit_code": get("unit_code"),
            "server_url": get("server_url"),
            "pending": counts[PENDING],
            "sent": counts[SENT],
            "kept_aside": counts[KEPT_ASIDE],
            "last_sync_at": get("last_sync_at"),
            "last_error": get("last_error"),
            "last_error_at": get("last_error_at"),
            "config_version": (get("config") or {}).get("questionnaire", {}).get("version"),
        }

    def integrity_ok(self) -> bool:
        return self.read(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"


def _set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, json.dumps(value, ensure_ascii=False)))
