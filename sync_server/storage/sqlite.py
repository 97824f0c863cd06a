"""SQLite storage: the embedded default.

One connection per thread (FastAPI runs sync work in a thread pool); each write is one
``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock at once: writers of this process
(and of any other process on the same file) queue instead of failing half-way with "database is
locked". WAL with ``synchronous=FULL``: when a batch is acknowledged, it is on disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sync_server.storage.sql.store import SQLStorage
from sync_server.storage.types import RESPONSE_COLUMNS

# ON CONFLICT(id) only: any other constraint failure still raises and rolls back.
_INSERT_RESPONSE = (f"INSERT INTO responses ({RESPONSE_COLUMNS}) VALUES ({', '.join('?' * (RESPONSE_COLUMNS.count(',') + 1))}) "
                    "ON CONFLICT (id) DO NOTHING")


class SQLiteStorage(SQLStorage):
    BEGIN = "BEGIN IMMEDIATE"
    DIALECT = "sqlite"

    def __init__(self, path: Path | str):
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _schema_version(self, conn) -> int:
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def _set_schema_version(self, conn, number: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(number)}")

    def schema_version(self) -> int:
        return self._schema_version(self._conn())

    def _tune_for_results(self, conn) -> None:
        if not getattr(self._local, "results_tuned", False):
            # The rollups' indexes are updated all over as a chunk lands: a 64 MiB page cache (not
            # the default 2 MiB) keeps a large first build from thrashing; reports read them too.
            conn.execute("PRAGMA cache_size = -65536")
            self._local.results_tuned = True

    def _insert_new(self, conn, rows: list[tuple]) -> set[str] | None:
        # Under BEGIN IMMEDIATE no one else writes: the rows past the old top are exactly ours.
        before_seq = conn.execute("SELECT COALESCE(MAX(server_seq), 0) FROM responses").fetchone()[0]
        before = conn.total_changes
        conn.executemany(_INSERT_RESPONSE, rows)
        if conn.total_changes - before == len(rows):
            return None
        return {r[0] for r in conn.execute("SELECT id FROM responses WHERE server_seq > ?", (before_seq,))}
