"""The kiosk's durable store: answers, their outbox state, and sync bookkeeping. No Qt.

One :class:`Store` owns the SQLite connection (WAL, ``synchronous=FULL``). Every change goes
through :meth:`Store.write`, one explicit ``BEGIN IMMEDIATE`` transaction per citizen action, so
a response's id and sequence number are born in the same transaction that stores it, and the
thank-you screen is only shown after that transaction committed.

Outbox states: ``draft`` (a citizen is still answering follow-ups: durable, with its id and seq,
but never sent), ``pending`` (finished, not yet acknowledged), ``sent`` (the server answered accepted or
duplicate), ``kept_aside`` (the server answered conflict or rejected; kept with its reason for
the admin screen, never retried forever). Nothing that is not ``sent`` is ever deleted.

Failing writes (disk full, I/O error) raise :class:`StoreError` and store nothing; the store keeps
the failure in :attr:`Store.last_storage_error` (it may not be writable to the database itself)
and recovers by itself: after an I/O-class error the connection is reopened before the next
write, so the next tap works as soon as the disk does.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from hailong_core.ids import is_uuid, uuid7
from hailong_core.timeutil import format_rfc3339, now_local
from hailong_core.response import FLAG_BURST, FLAG_COOLDOWN, FLAG_INCOMPLETE
from kiosk.migrations import migrate
from kiosk.misuse import MisuseRules

log = logging.getLogger(__name__)
T = TypeVar("T")

DRAFT, PENDING, SENT, KEPT_ASIDE = "draft", "pending", "sent", "kept_aside"

# Primary SQLite result codes after which the connection itself may be unusable: reopen it.
# (SQLITE_FULL and SQLITE_BUSY leave the connection fine: the next write simply tries again.)
_REOPEN_CODES = frozenset((8, 10, 11, 14, 26))  # READONLY, IOERR, CORRUPT, CANTOPEN, NOTADB


BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")

BootClock = Callable[[], tuple[str, int]]
"""``() -> (boot id, monotonic ms)``: what :func:`boot_stamp` returns; tests pass their own."""


@functools.cache
def boot_id() -> str:
    """This boot's id: Linux's ``/proc/sys/kernel/random/boot_id``, else a UUID made once per process.

    Read once (a boot id cannot change under a running process). The fallback is honest: a new
    process counts as a new "boot", so the server never pairs it with another process's anchor.
    """
    try:
        text = BOOT_ID_PATH.read_text(encoding="ascii").strip().lower()
    except (OSError, ValueError):
        text = ""
    return text if is_uuid(text) else str(uuid.uuid4())


def boot_stamp() -> tuple[str, int]:
    """``(boot id, time.monotonic() in ms)``: CLOCK_MONOTONIC on Linux, never set by anyone."""
    return boot_id(), int(time.monotonic() * 1000)


def _dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class StoreError(Exception):
    """The local database could not commit (disk full, I/O error, locked): nothing was stored."""


class Store:
    """The single owner of the kiosk's SQLite connection; safe to share between threads."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = now_local, boot_clock: BootClock = boot_stamp):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self.boot_clock = boot_clock
        """Stamps each new answer (and, by default, each sync message): see :func:`boot_stamp`."""
        self._lock = threading.RLock()
        self.last_storage_error: dict | None = None
        """``{"message", "at"}`` of the last failed write (kept in memory: the disk may be full)."""
        self._error_unsaved = False
        self._conn: sqlite3.Connection | None = None
        self._conn = self._open()
        migrate(self._conn)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each action is one transaction.
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- the one write path ----------------------------------------------------------------

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one ``BEGIN IMMEDIATE`` transaction and commit it.

        Raises :class:`StoreError` when anything fails; the transaction is then rolled back and
        nothing of it is stored.
        """
        with self._lock:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            log.exception("rollback failed")
                    raise
            except sqlite3.Error as exc:
                self._failed(exc)
                raise StoreError(str(exc)) from exc
            if self._error_unsaved:
                self._save_last_error()
            return result

    def _failed(self, exc: sqlite3.Error) -> None:
        log.error("kiosk store write failed: %s", exc)
        self.last_storage_error = {"message": str(exc)[:500], "at": format_rfc3339(self._clock())}
        self._error_unsaved = True
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in _REOPEN_CODES and self._conn is not None:
            # The connection may be wedged after an I/O error: start afresh on the next write.
            try:
                self._conn.close()
            except sqlite3.Error:
                log.exception("closing the failed connection")
            self._conn = None

    def _save_last_error(self) -> None:
        """Writes work again: keep the last storage failure in the database for the admin screen."""
        self._error_unsaved = False
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            _set_meta(conn, "last_storage_error", self.last_storage_error)
            conn.execute("COMMIT")
        except sqlite3.Error:
            log.exception("could not keep the last storage error")
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only ``fn(conn)``; raises :class:`StoreError` on database errors."""
        with self._lock:
            try:
                return fn(self._connection())
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    # --- responses ---------------------------------------------------------------------------

    def record_response(self, *, unit_code: str, questionnaire: dict, answers: dict,
                        officer_id: str | None = None, flags: Iterable[str] = (), channel: str = "kiosk",
                        misuse: MisuseRules | None = None, procedure_group: str | None = None,
                        dossier_code: str | None = None) -> dict:
        """Store one finished answer durably (state ``pending``) and return its record.

        The id (UUIDv7) and the device sequence number are made inside the transaction, and so
        are its wall time (``created_at``) and its boot stamp (``boot_id``, ``mono_ms``).
        ``dossier_code`` (already checked and normalised) ties it to a receipt; absent when None.
        """
        return self._insert(PENDING, unit_code, questionnaire, answers, officer_id, flags, channel, misuse, procedure_group,
                            dossier_code)

    def begin_response(self, *, unit_code: str, questionnaire: dict, answers: dict,
                       officer_id: str | None = None, flags: Iterable[str] = (), channel: str = "kiosk",
                       misuse: MisuseRules | None = None, procedure_group: str | None = None,
                       dossier_code: str | None = None) -> dict:
        """Store a face tap at once as a ``draft`` (id and seq born here); follow-ups update it.

        ``misuse`` applies the cool-down and burst rules (:mod:`kiosk.misuse`) in this same
        transaction. The draft is never sent until :meth:`finalise` makes it pending. The
        ``dossier_code`` is on the draft from its birth and stays through follow-ups.
        """
        return self._insert(DRAFT, unit_code, questionnaire, answers, officer_id, flags, channel, misuse, procedure_group,
                            dossier_code)

    def _insert(self, state: str, unit_code: str, questionnaire: dict, answers: dict, officer_id: str | None,
                flags: Iterable[str], channel: str, misuse: MisuseRules | None, procedure_group: str | None = None,
                dossier_code: str | None = None) -> dict:
        flag_set = set(flags)

        def tx(conn: sqlite3.Connection) -> dict:
            now = self._clock()
            boot, mono = self.boot_clock()
            now_ts = now.timestamp()
            if misuse is not None:
                flag_set.update(_misuse_flags(conn, now_ts, misuse))
            seq = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value").fetchone()[0]
            record = {
                "id": uuid7(int(now_ts * 1000)),
                "seq": seq,
                "unit_code": unit_code,
                "officer_id": officer_id,
                "questionnaire": {"id": questionnaire["id"], "version": questionnaire["version"]},
                "channel": channel,
                "created_at": format_rfc3339(now),
                "answers": answers,
                "flags": sorted(flag_set),
                "boot_id": boot,
                "mono_ms": mono,
            }
            if procedure_group:  # absent, not null, when unknown: records stay as they were before the field
                record["procedure_group"] = procedure_group
            if dossier_code:  # likewise: a record not tied to a receipt has no key at all (content hashes)
                record["dossier_code"] = dossier_code
            conn.execute(
                "INSERT INTO responses (seq, id, record, created_at, state, created_ts, touched_ts, boot_id, mono_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, record["id"], _dumps(record), record["created_at"], state, now_ts, now_ts, boot, mono),
            )
            return record

        return self.write(tx)

    def update_draft(self, response_id: str, answers: dict) -> dict | None:
        """Replace a draft's answers (one follow-up answered) in its own transaction.

        Returns the new record, or None when the row is no longer a draft (finalised meanwhile,
        e.g. by the start-up sweep): a finalised record is never changed.
        """
        def tx(conn: sqlite3.Connection) -> dict | None:
            row = conn.execute("SELECT record FROM responses WHERE id = ? AND state = 'draft'", (response_id,)).fetchone()
            if row is None:
                return None
            record = json.loads(row[0])
            record["answers"] = answers
            conn.execute("UPDATE responses SET record = ?, touched_ts = ? WHERE id = ?",
                         (_dumps(record), self._clock().timestamp(), response_id))
            return record

        return self.write(tx)

    def finalise(self, response_id: str, flags: Iterable[str] = ()) -> dict | None:
        """Make a draft ``pending`` (eligible for sync), adding ``flags``; return its record.

        Returns None when it was not a draft (already finalised): calling twice is harmless.
        """
        extra = set(flags)

        def tx(conn: sqlite3.Connection) -> dict | None:
            row = conn.execute("SELECT record FROM responses WHERE id = ? AND state = 'draft'", (response_id,)).fetchone()
            if row is None:
                return None
            record = json.loads(row[0])
            record["flags"] = sorted(set(record["flags"]) | extra)
            conn.execute("UPDATE responses SET record = ?, state = 'pending', touched_ts = ? WHERE id = ?",
                         (_dumps(record), self._clock().timestamp(), response_id))
            return record

        return self.write(tx)

    def finalise_stale_drafts(self, older_than_s: float, exclude: str | None = None) -> int:
        """Finalise drafts untouched for ``older_than_s`` seconds as ``incomplete``; return how many.

        Run at start-up (a crash mid-answer loses nothing: the draft goes out, flagged) and now
        and then while running; ``exclude`` spares the draft a citizen is answering right now.
        """
        def tx(conn: sqlite3.Connection) -> int:
            cutoff = self._clock().timestamp() - older_than_s
            rows = conn.execute("SELECT id, record FROM responses WHERE state = 'draft' AND touched_ts <= ? AND id IS NOT ?",
                                (cutoff, exclude)).fetchall()
            for rid, raw in rows:
                record = json.loads(raw)
                record["flags"] = sorted(set(record["flags"]) | {FLAG_INCOMPLETE})
                conn.execute("UPDATE responses SET record = ?, state = 'pending' WHERE id = ?", (_dumps(record), rid))
            return len(rows)

        return self.write(tx)

    def drafts(self) -> list[dict]:
        """Records still in the ``draft`` state, in device order."""
        rows = self.read(lambda c: c.execute("SELECT record FROM responses WHERE state = 'draft' ORDER BY seq").fetchall())
        return [json.loads(r[0]) for r in rows]

    def take_batch(self, limit: int) -> list[dict]:
        """The oldest pending records for an upload, marked as carried by a batch.

        From here on a row is never rewritten (the burst rule leaves it alone): the server may
        have stored it, with its content hash, even if its answer never arrives.
        """
        def tx(conn: sqlite3.Connection) -> list[dict]:
            rows = conn.execute("SELECT seq, record FROM responses WHERE state = 'pending' ORDER BY seq LIMIT ?", (limit,)).fetchall()
            conn.executemany("UPDATE responses SET tried = 1 WHERE seq = ? AND tried = 0", [(r[0],) for r in rows])
            return [json.loads(r[1]) for r in rows]

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
        if not out.get(DRAFT):
            out.pop(DRAFT, None)  # the usual shape; a draft shows only while a citizen answers
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
            "last_storage_error": self.last_storage_error or get("last_storage_error"),
            "drafts": counts.get(DRAFT, 0),
            "config_version": ((get("config") or {}).get("questionnaire") or {}).get("version"),
        }

    def integrity_ok(self) -> bool:
        return self.read(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"


def _misuse_flags(conn: sqlite3.Connection, now_ts: float, rules: MisuseRules) -> set[str]:
    """The cool-down and burst flags of a tap at ``now_ts`` (rules in :mod:`kiosk.misuse`).

    Flags the other still-changeable taps of a burst as a side effect, in the caller's transaction.
    """
    flags: set[str] = set()
    last = conn.execute("SELECT MAX(touched_ts) FROM responses").fetchone()[0]
    if rules.is_cooldown(last, now_ts):
        flags.add(FLAG_COOLDOWN)
    if rules.burst_count > 0:
        since = now_ts - rules.burst_window_s
        window = conn.execute("SELECT seq, created_ts FROM responses WHERE created_ts > ? AND created_ts <= ?"
                              " ORDER BY created_ts, seq LIMIT 1", (since, now_ts)).fetchone()
        in_window = conn.execute("SELECT COUNT(*) FROM responses WHERE created_ts > ? AND created_ts <= ?",
                                 (since, now_ts)).fetchone()[0]
        if rules.is_burst(in_window + 1):
            flags.add(FLAG_BURST)
            # The run's first tap stays counted: the earliest of the window, when the window before
            # it was quiet (a genuine answer just before someone starts mashing).
            first_seq, first_ts = window
            before = conn.execute("SELECT 1 FROM responses WHERE created_ts > ? AND created_ts < ? LIMIT 1",
                                  (first_ts - rules.burst_window_s, first_ts)).fetchone()
            spare = first_seq if before is None else -1
            # Only rows not flagged yet and still changeable: a long run costs no rewriting twice.
            changeable = conn.execute(
                "SELECT seq, record FROM responses WHERE created_ts > ? AND created_ts <= ? AND seq != ?"
                " AND (state = 'draft' OR (state = 'pending' AND tried = 0)) AND instr(record, '\"burst\"') = 0",
                (since, now_ts, spare)).fetchall()
            for seq, raw in changeable:
                record = json.loads(raw)
                if FLAG_BURST not in record["flags"]:
                    record["flags"] = sorted(set(record["flags"]) | {FLAG_BURST})
                    conn.execute("UPDATE responses SET record = ? WHERE seq = ?", (_dumps(record), seq))
    return flags


def _set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, json.dumps(value, ensure_ascii=False)))
