"""Numbered, append-only migrations of the kiosk database.

A kiosk in the field upgrades a database that still holds unsent answers: never edit or reorder
a published step; add the next one. ``PRAGMA user_version`` records how far a file has come.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: responses with their outbox state, the device counter, key/value meta.
    """
    CREATE TABLE responses (
        seq        INTEGER PRIMARY KEY,            -- the device's sequence number, born with the row
        id         TEXT NOT NULL UNIQUE,           -- UUIDv7, born with the row, a retry resends it
        record     TEXT NOT NULL,                  -- the protocol record as JSON, sent as-is
        created_at TEXT NOT NULL,
        state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'kept_aside')),
        reason     TEXT,                           -- why it was kept aside
        sent_at    TEXT
    );
    CREATE INDEX responses_state_seq ON responses (state, seq);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters (name, value) VALUES ('seq', 0);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: a `draft` state (a face tap commits at once; follow-ups update the draft; finish, skip or
    # the idle timeout makes it `pending`), the epoch times the misuse rules compare, and whether
    # a sync batch ever carried the row (a row that may have reached the server is never
    # rewritten: its content hash is fixed there). SQLite cannot alter a CHECK constraint, so the
    # table is rebuilt and every row copied.
    """
    CREATE TABLE responses_v2 (
        seq        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        record     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('draft', 'pending', 'sent', 'kept_aside')),
        reason     TEXT,
        sent_at    TEXT,
        created_ts REAL NOT NULL DEFAULT 0,       -- Unix seconds of the tap (burst rule)
        touched_ts REAL NOT NULL DEFAULT 0,       -- Unix seconds of the last change (cool-down, stale drafts)
        tried      INTEGER NOT NULL DEFAULT 0     -- 1 once a sync batch carried it: never rewritten after
    );
    INSERT INTO responses_v2 (seq, id, record, created_at, state, reason, sent_at, created_ts, touched_ts, tried)
        SELECT seq, id, record, created_at, state, reason, sent_at,
               COALESCE((julianday(created_at) - 2440587.5) * 86400.0, 0),
               COALESCE((julianday(created_at) - 2440587.5) * 86400.0, 0),
               1  -- a version-1 pending row may have been in a batch whose answer was lost
        FROM responses;
    DROP TABLE responses;
    ALTER TABLE responses_v2 RENAME TO responses;
    CREATE INDEX responses_state_seq ON responses (state, seq);
    CREATE INDEX responses_created_ts ON responses (created_ts)
    """,
    # 3: the boot id and monotonic clock (ms) each answer was given at, also inside its record, so
    # the server can tell a wall clock that was off at the time even if it was fixed before the
    # sync. Older rows keep NULL here and their records carry neither field: their content hash,
    # already fixed on the server for a row a batch carried, must not change.
    """
    ALTER TABLE responses ADD COLUMN boot_id TEXT;
    ALTER TABLE responses ADD COLUMN mono_ms INTEGER
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the steps this file lacks, each in its own transaction; return the new version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database version {version} is newer than this app ({len(MIGRATIONS)}): upgrade the app")
    for number in range(version + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    # executescript() would commit behind our back; split on ';' instead (no ";" inside our SQL, comments included).
    return [s.strip() for s in script.split(";") if s.strip() and not all(l.strip().startswith("--") or not l.strip() for l in s.splitlines())]
