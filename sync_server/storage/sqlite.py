"""SQLite storage: the embedded default.

One connection per thread (FastAPI runs sync work in a thread pool); writes are serialised by a
process-wide lock and each is one ``BEGIN IMMEDIATE`` transaction, so concurrent uploads queue
instead of failing with ``database is locked``. WAL with ``synchronous=FULL``: when a batch is
acknowledged, it is on disk. The areas beyond the protocol core live in ``sqlite_*.py`` mixins.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Callable, TypeVar

from hailong_core.assets import load_json_asset
from hailong_core.questionnaire import parse_questionnaire
from hailong_core.timeutil import format_rfc3339
from sync_server.storage.base import Device, PreparedResponse, Storage
from sync_server.storage.sqlite_fleet import SQLiteFleet
from sync_server.storage.sqlite_migrations import MIGRATIONS
from sync_server.storage.sqlite_officers import SQLiteOfficers
from sync_server.storage.sqlite_people import SQLitePeople
from sync_server.storage.sqlite_phone import SQLitePhone
from sync_server.storage.sqlite_results import SQLiteResults
from sync_server.storage.sqlite_surveys import SQLiteSurveys
from sync_server.storage.sqlite_units import SQLiteUnits
from sync_server.storage.types import RESPONSE_COLUMNS
from sync_server.unit_files import load_release_json

T = TypeVar("T")
CONFLICT_MESSAGE = "a response with this id and other content is already stored; the new content is kept aside for review"
_ID_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's variable limit
# ON CONFLICT(id) only: any other constraint failure still raises and rolls back.
_INSERT_RESPONSE = (f"INSERT INTO responses ({RESPONSE_COLUMNS}) VALUES ({', '.join('?' * (RESPONSE_COLUMNS.count(',') + 1))}) "
                    "ON CONFLICT (id) DO NOTHING")

UNITS_ASSET = ("units", "bac_giang_2023.json")
QUESTIONNAIRE_ASSET = ("questionnaires", "default.json")


class SQLiteStorage(SQLiteUnits, SQLiteOfficers, SQLiteSurveys, SQLiteFleet, SQLitePeople, SQLitePhone, SQLiteResults, Storage):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

    # --- connections and transactions -----------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    # IMMEDIATE takes SQLite's write lock at once, so a transaction never fails half-way on "locked".
    BEGIN = "BEGIN IMMEDIATE"

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction, serialised within this process, and commit."""
        conn = self._conn()
        with self._write_lock:
            conn.execute(self.BEGIN)
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return result

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    # --- schema -----------------------------------------------------------------------------

    def migrate(self) -> None:
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema {version} is newer than this server ({len(MIGRATIONS)})")
        for number in range(version + 1, len(MIGRATIONS) + 1):
            def step(c: sqlite3.Connection, number=number) -> None:
                for statement in MIGRATIONS[number - 1]:
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")
            self._write(step)
        self._seed()

    def _seed(self) -> None:
        if not self._conn().execute("SELECT 1 FROM units LIMIT 1").fetchone():
            self.import_unit_release(load_release_json(_asset_text(*UNITS_ASSET), source=UNITS_ASSET[1]))

        def tx(c: sqlite3.Connection) -> None:
            if c.execute("SELECT COUNT(*) FROM questionnaires").fetchone()[0] == 0:
                doc = load_json_asset(*QUESTIONNAIRE_ASSET)
                q = parse_questionnaire(doc)
                stamp = format_rfc3339(datetime.now().astimezone())
                c.execute("INSERT INTO questionnaires (id, version, body, published_at, created_at) VALUES (?, ?, ?, ?, ?)",
                          (q.id, q.version, json.dumps(doc, ensure_ascii=False), stamp, stamp))
        self._write(tx)

    # --- responses ----------------------------------------------------------------------------

    def store_batch(self, device: Device | None, items: list[PreparedResponse], received_at: str,
                    clock_offset_s: float | None) -> list[tuple[str, str | None]]:
        device_id = device.id if device else None

        def tx(c: sqlite3.Connection) -> list[tuple[str, str | None]]:
            first: dict[str, int] = {}
            rows = []
            for index, p in enumerate(items):
                if p.id not in first:
                    first[p.id] = index
                    rows.append((p.id, p.content_hash, device_id, received_at) + p.values)
            before_seq = c.execute("SELECT COALESCE(MAX(server_seq), 0) FROM responses").fetchone()[0]
            before_changes = c.total_changes
            c.executemany(_INSERT_RESPONSE, rows)
            if c.total_changes - before_changes == len(items):
                results = [("accepted", None)] * len(items)  # the common case: all new, no lookup needed
            else:
                results = self._classify(c, items, first, before_seq, device_id, received_at)
            if device_id is not None:
                c.execute("UPDATE devices SET last_seen_at = ?, last_upload_at = ?, clock_offset_s = COALESCE(?, clock_offset_s) WHERE id = ?",
                          (received_at, received_at, clock_offset_s, device_id))
            return results

        return self._write(tx)

    @staticmethod
    def _classify(c: sqlite3.Connection, items: list[PreparedResponse], first: dict[str, int], before_seq: int,
                  device_id: str | None, received_at: str) -> list[tuple[str, str | None]]:
        """Per-item status when some ids were already stored (or repeated within the batch)."""
        ids = list(first)
        stored: dict[str, tuple[str, int]] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start:start + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            for rid, digest, seq in c.execute(f"SELECT id, content_hash, server_seq FROM responses WHERE id IN ({marks})", chunk):
                stored[rid] = (digest, seq)
        results: list[tuple[str, str | None]] = []
        conflicts = []
        for index, p in enumerate(items):
            digest, seq = stored[p.id]
            if seq > before_seq and first[p.id] == index:
                results.append(("accepted", None))
            elif digest == p.content_hash:
                results.append(("duplicate", None))
            else:
                results.append(("conflict", CONFLICT_MESSAGE))
                conflicts.append((p.id, device_id, p.record_json.decode(), received_at))
        if conflicts:
            c.executemany("INSERT INTO response_conflicts (response_id, device_id, record, received_at) VALUES (?, ?, ?, ?)", conflicts)
        return results

    def answers_per_unit(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT unit_code, COUNT(*) FROM responses GROUP BY unit_code ORDER BY unit_code").fetchall()
        return {r[0]: r[1] for r in rows}

    def response_count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def conflicts(self) -> list[dict]:
        rows = self._conn().execute("SELECT response_id, device_id, record, received_at FROM response_conflicts ORDER BY id").fetchall()
        return [dict(r) for r in rows]


def _asset_text(*parts: str) -> str:
    from hailong_core.assets import asset_path

    return asset_path(*parts).read_text(encoding="utf-8")
