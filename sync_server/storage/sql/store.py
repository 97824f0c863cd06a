"""The shared base of both SQL back ends: connections per thread, the one write path, migrations,
seeding, and the ingest of a batch.

:class:`SQLStorage` runs the portable SQL of the area modules (``sql/*.py``). A back end
(:mod:`sync_server.storage.sqlite`, :mod:`sync_server.storage.postgres`) inherits it as an equal
and supplies only what truly differs: how to connect, how a write transaction starts and shuts
out other processes, how the schema version is kept, and how a batch of new rows is inserted.
"""

from __future__ import annotations

import json
import os
import threading
from abc import abstractmethod
from datetime import datetime
from typing import Any, Callable, TypeVar

from hailong_core.assets import asset_path, load_json_asset
from hailong_core.questionnaire import parse_questionnaire
from hailong_core.timeutil import format_rfc3339
from sync_server.storage.base import Device, PreparedResponse, Storage
from sync_server.storage.migrations import MIGRATIONS, statements
from sync_server.storage.sql.alerts import SQLAlerts
from sync_server.storage.sql.comments import SQLComments
from sync_server.storage.sql.dossiers import SQLDossiers
from sync_server.storage.sql.duties import SQLDuties
from sync_server.storage.sql.fleet import SQLFleet
from sync_server.storage.sql.officers import SQLOfficers
from sync_server.storage.sql.people import SQLPeople
from sync_server.storage.sql.phone import SQLPhone
from sync_server.storage.sql.prompts import SQLPrompts
from sync_server.storage.sql.relay import SQLRelay
from sync_server.storage.sql.releases import SQLReleases
from sync_server.storage.sql.sites import SQLSites
from sync_server.storage.sql.results import SQLResults
from sync_server.storage.sql.surveys import SQLSurveys
from sync_server.storage.sql.units import SQLUnits
from sync_server.unit_files import load_release_json, load_releases_json

T = TypeVar("T")
CONFLICT_MESSAGE = "a response with this id and other content is already stored; the new content is kept aside for review"
UNITS_ASSET = ("units", "bac_giang_2023.json")
TODAY_ASSET = ("units", "bac_ninh_2026.json")
SEED_ENV = "HAILONG_SERVER_SEED_UNITS"


def seed_structures() -> str:
    """Which shipped trees a fresh database gets: ``all`` (the 2023 tree of the first campaign and
    today's Bắc Ninh, the default) or ``2023`` (that tree alone: the 2023 demo and the tests that
    replay the 2023 campaign). Read from the environment (the ``seed_units`` setting's variable),
    because a database is seeded the moment it is first opened, before any settings file is read."""
    value = os.environ.get(SEED_ENV, "all").strip().lower()
    return value if value in ("all", "2023") else "all"
QUESTIONNAIRE_ASSET = ("questionnaires", "default.json")


class SQLStorage(SQLUnits, SQLOfficers, SQLSurveys, SQLFleet, SQLPeople, SQLPhone, SQLResults, SQLDuties, SQLPrompts, SQLSites,
                 SQLDossiers, SQLReleases, SQLAlerts, SQLComments, SQLRelay, Storage):
    """Everything both back ends share. Subclasses call ``super().__init__()`` and fill the hooks."""

    #: The statement that opens a write transaction.
    BEGIN = "BEGIN"
    #: Which flavour of a per-dialect migration statement this back end runs.
    DIALECT = ""

    def __init__(self) -> None:
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[tuple[threading.Thread, Any]] = []
        self._all_lock = threading.Lock()

    # --- hooks of a back end ----------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """A new connection with the ``sqlite3.Connection`` surface the areas use (autocommit)."""

    @staticmethod
    def _is_closed(conn: Any) -> bool:
        return False

    def _close_conn(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not stop the others
            pass

    def _lock_writers(self, conn: Any) -> None:
        """Inside a write transaction, before its first statement: shut out writers of other processes."""

    @abstractmethod
    def _schema_version(self, conn: Any) -> int: ...

    @abstractmethod
    def _set_schema_version(self, conn: Any, number: int) -> None: ...

    def _ddl(self, statement: str) -> str:
        """A migration statement as this back end runs it."""
        return statement

    def _tune_for_results(self, conn: Any) -> None:
        """Once per connection before a large rollup fold (SQLite enlarges its page cache)."""

    @abstractmethod
    def _insert_new(self, conn: Any, rows: list[tuple]) -> set[str] | None:
        """Insert ``rows`` (RESPONSE_COLUMNS order), skipping ids already stored.

        Returns the ids that were new, or None when every row was new.
        """

    # --- connections and transactions ---------------------------------------------------------

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._is_closed(conn):
            with self._all_lock:
                # Thread pools come and go (each test client, each event loop): a connection whose
                # thread has ended is closed here, or a long-running server would run out of them.
                alive = []
                for owner, old in self._all:
                    if owner.is_alive() and not self._is_closed(old):
                        alive.append((owner, old))
                    else:
                        self._close_conn(old)
                conn = self._connect()
                alive.append((threading.current_thread(), conn))
                self._all = alive
            self._local.conn = conn
        return conn

    def _write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` in one write transaction and commit.

        Writers are serialised: within this process by a lock, across processes by the back end
        (:meth:`_lock_writers`). So every read-then-write step (a code redeemed once, a watermark
        moved once) is exact with any number of server processes, and ``server_seq`` is assigned
        in commit order, which the pull cursor and the rollup watermark rely on (contract 12).
        """
        conn = self._conn()
        with self._write_lock:
            conn.execute(self.BEGIN)
            try:
                self._lock_writers(conn)
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return result

    def close(self) -> None:
        with self._all_lock:
            for _, conn in self._all:
                self._close_conn(conn)
            self._all.clear()
        self._local = threading.local()

    # --- schema -----------------------------------------------------------------------------------

    def migrate(self) -> None:
        def step(c) -> None:
            version = self._schema_version(c)
            if version > len(MIGRATIONS):
                raise RuntimeError(f"database schema {version} is newer than this server ({len(MIGRATIONS)})")
            for number in range(version + 1, len(MIGRATIONS) + 1):
                for statement in statements(MIGRATIONS[number - 1], self.DIALECT):
                    c.execute(self._ddl(statement))
                self._set_schema_version(c, number)
        self._write(step)
        self._seed()

    def _seed(self) -> None:
        if not self._conn().execute("SELECT 1 FROM units LIMIT 1").fetchone():
            text = asset_path(*UNITS_ASSET).read_text(encoding="utf-8")
            self.import_unit_release(load_release_json(text, source=UNITS_ASSET[1]))
            if seed_structures() == "all":
                # Today's structure beside the 2023 one (issue 13): Bắc Ninh from 1 July 2025, with
                # the 2026 code corrections and city status, each version with its dates and links.
                text = asset_path(*TODAY_ASSET).read_text(encoding="utf-8")
                for release in load_releases_json(text, source=TODAY_ASSET[1]):
                    self.import_unit_release(release)

        def tx(c) -> None:
            if c.execute("SELECT COUNT(*) FROM questionnaires").fetchone()[0] == 0:
                doc = load_json_asset(*QUESTIONNAIRE_ASSET)
                q = parse_questionnaire(doc)
                stamp = format_rfc3339(datetime.now().astimezone())
                c.execute("INSERT INTO questionnaires (id, version, body, published_at, created_at) VALUES (?, ?, ?, ?, ?)",
                          (q.id, q.version, json.dumps(doc, ensure_ascii=False), stamp, stamp))
        self._write(tx)

    # --- responses ----------------------------------------------------------------------------------

    def store_batch(self, device: Device | None, items: list[PreparedResponse], received_at: str,
                    clock_offset_s: float | None, boot: tuple[str, int] | None = None,
                    dossiers: dict[str, tuple[str, bool]] | None = None,
                    relayed: dict[str, str | None] | None = None) -> list[tuple[str, str | None]]:
        device_id = device.id if device else None

        def tx(c) -> list[tuple[str, str | None]]:
            if boot is not None and device_id is not None:
                self._note_boot(c, device_id, boot, received_at)
            if not items:
                return []
            first: dict[str, int] = {}
            rows = []
            for index, p in enumerate(items):
                if p.id not in first:
                    first[p.id] = index
                    rows.append((p.id, p.content_hash, relayed.get(p.id) if relayed is not None else device_id, received_at) + p.values)
            inserted = self._insert_new(c, rows)
            if inserted is None and len(rows) == len(items):
                results = [("accepted", None)] * len(items)  # the common case: all new, no lookup needed
            else:
                results = self._classify(c, items, first, inserted, device_id, received_at)
            if dossiers:
                # Only rows this transaction stored: a duplicate keeps its code and mark, a conflict is filed aside.
                new = set(first) if inserted is None else inserted
                marks = [(p.id, *dossiers[p.id]) for index, p in enumerate(items)
                         if p.id in dossiers and p.id in new and first[p.id] == index]
                if marks:
                    self._claim_dossiers(c, marks, received_at)
            if relayed is not None:
                # Through a relay (issue 17): the row names the kiosk it was given on (inserted so) and the relay.
                new = [i for i in first if inserted is None or i in inserted]
                for start in range(0, len(new), self._ID_CHUNK):
                    chunk = new[start:start + self._ID_CHUNK]
                    c.execute(f"UPDATE responses SET relay_id = ? WHERE id IN ({','.join('?' * len(chunk))})", (device_id, *chunk))
            if device_id is not None:
                c.execute("UPDATE devices SET last_seen_at = ?, last_upload_at = ?, clock_offset_s = COALESCE(?, clock_offset_s) "
                          "WHERE id = ?", (received_at, received_at, clock_offset_s, device_id))
            return results

        return self._write(tx)

    @staticmethod
    def _note_boot(c, device_id: str, boot: tuple[str, int], seen_at: str) -> None:
        c.execute("INSERT INTO device_boots (device_id, boot_id, anchor_ms, seen_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (device_id, boot_id) DO UPDATE SET anchor_ms = excluded.anchor_ms, seen_at = excluded.seen_at",
                  (device_id, boot[0], boot[1], seen_at))

    def note_boot(self, device_id: str, boot_id: str, anchor_ms: int, seen_at: str) -> None:
        self._write(lambda c: self._note_boot(c, device_id, (boot_id, anchor_ms), seen_at))

    def boot_anchors(self, device_id: str) -> dict[str, int]:
        rows = self._conn().execute("SELECT boot_id, anchor_ms FROM device_boots WHERE device_id = ?", (device_id,))
        return {r[0]: r[1] for r in rows}

    def _classify(self, c, items: list[PreparedResponse], first: dict[str, int], inserted: set[str] | None,
                  device_id: str | None, received_at: str) -> list[tuple[str, str | None]]:
        """Per-item status when some ids were already stored (or repeated within the batch)."""
        new = set(first) if inserted is None else inserted
        # The content each id now has: this batch's first occurrence, or what was stored before.
        known = {p.id: p.content_hash for index, p in enumerate(items) if p.id in new and first[p.id] == index}
        known.update(self._stored_hashes(c, [i for i in first if i not in new]))
        results: list[tuple[str, str | None]] = []
        conflicts = []
        for index, p in enumerate(items):
            if p.id in new and first[p.id] == index:
                results.append(("accepted", None))
            elif known[p.id] == p.content_hash:
                results.append(("duplicate", None))
            else:
                results.append(("conflict", CONFLICT_MESSAGE))
                conflicts.append((p.id, device_id, p.record_json.decode(), received_at))
        if conflicts:
            c.executemany("INSERT INTO response_conflicts (response_id, device_id, record, received_at) VALUES (?, ?, ?, ?)", conflicts)
        return results

    _ID_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's variable limit

    def _stored_hashes(self, c, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(ids), self._ID_CHUNK):
            chunk = ids[start:start + self._ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            out.update((r[0], r[1]) for r in c.execute(f"SELECT id, content_hash FROM responses WHERE id IN ({marks})", chunk))
        return out

    def answers_per_unit(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT unit_code, COUNT(*) FROM responses GROUP BY unit_code ORDER BY unit_code").fetchall()
        return {r[0]: r[1] for r in rows}

    def answers_per_site(self) -> dict[tuple[str, int | None], int]:
        rows = self._conn().execute("SELECT unit_code, site_id, COUNT(*) FROM responses GROUP BY unit_code, site_id "
                                    "ORDER BY unit_code, site_id").fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def response_count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def conflicts(self) -> list[dict]:
        rows = self._conn().execute("SELECT response_id, device_id, record, received_at FROM response_conflicts ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    # --- conflicts review (issue 11, item 12) -------------------------------------------------------

    _CONFLICT_SELECT = (
        "SELECT c.id, c.response_id, c.device_id, c.record, c.received_at, c.reviewed_at, c.reviewed_by, c.review_note, "
        "d.name AS device_name, d.unit_code AS device_unit_code, "
        "r.server_seq AS stored_server_seq, r.device_id AS stored_device_id, r.unit_code AS stored_unit_code, "
        "r.officer_id AS stored_officer_id, r.questionnaire_id AS stored_questionnaire_id, "
        "r.questionnaire_version AS stored_questionnaire_version, r.channel AS stored_channel, r.seq AS stored_seq, "
        "r.created_at AS stored_created_at, r.received_at AS stored_received_at, r.answers AS stored_answers, "
        "r.flags AS stored_flags, r.procedure_group AS stored_procedure_group, r.boot_id AS stored_boot_id, "
        "r.mono_ms AS stored_mono_ms "
        "FROM response_conflicts c LEFT JOIN responses r ON r.id = c.response_id LEFT JOIN devices d ON d.id = c.device_id")

    @staticmethod
    def _reviewed_where(reviewed: bool | None) -> str:
        return {None: "", False: " WHERE c.reviewed_at IS NULL", True: " WHERE c.reviewed_at IS NOT NULL"}[reviewed]

    def conflict_rows(self, reviewed: bool | None = False, limit: int = 50, offset: int = 0) -> list[dict]:
        rows = self._conn().execute(f"{self._CONFLICT_SELECT}{self._reviewed_where(reviewed)} ORDER BY c.id DESC LIMIT ? OFFSET ?",
                                    (limit, offset)).fetchall()
        return [dict(r) for r in rows]

    def conflict_count(self, reviewed: bool | None = False) -> int:
        return self._conn().execute(f"SELECT COUNT(*) FROM response_conflicts c{self._reviewed_where(reviewed)}").fetchone()[0]

    def conflict_row(self, conflict_id: int) -> dict | None:
        row = self._conn().execute(f"{self._CONFLICT_SELECT} WHERE c.id = ?", (conflict_id,)).fetchone()
        return dict(row) if row else None

    def review_conflict(self, conflict_id: int, at: str, by: str, note: str | None) -> bool:
        return self._write(lambda c: c.execute(
            "UPDATE response_conflicts SET reviewed_at = ?, reviewed_by = ?, review_note = ? WHERE id = ? AND reviewed_at IS NULL",
            (at, by, note, conflict_id)).rowcount == 1)
