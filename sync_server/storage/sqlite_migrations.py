"""Numbered, append-only migrations of the server's SQLite schema (one tuple of statements each).

Never edit a published step: add the next one. ``PRAGMA user_version`` records the step reached.
"""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: units, questionnaires, enrolment, devices, responses, conflicts.
    (
        """CREATE TABLE units (
            code TEXT PRIMARY KEY, name TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('province', 'centre', 'district', 'commune')),
            parent_code TEXT REFERENCES units (code), valid_from TEXT, valid_to TEXT)""",
        "CREATE INDEX units_parent ON units (parent_code)",
        """CREATE TABLE questionnaires (
            id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, published_at TEXT,
            PRIMARY KEY (id, version))""",
        """CREATE TABLE enroll_codes (
            code_hash TEXT PRIMARY KEY, unit_code TEXT NOT NULL REFERENCES units (code),
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, device_id TEXT)""",
        """CREATE TABLE devices (
            id TEXT PRIMARY KEY, unit_code TEXT NOT NULL REFERENCES units (code), name TEXT,
            token_hash TEXT NOT NULL UNIQUE, enrolled_at TEXT NOT NULL, revoked_at TEXT,
            last_seen_at TEXT, last_upload_at TEXT, last_sync_at TEXT, pending INTEGER, kept_aside INTEGER,
            app_version TEXT, clock_offset_s REAL, last_error TEXT)""",
        # server_seq orders the pull feed (later); id is the kiosk-born idempotency key;
        # created_at is the device's time as sent, created_ms the same instant in UTC epoch ms.
        """CREATE TABLE responses (
            server_seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL,
            device_id TEXT, unit_code TEXT NOT NULL, officer_id TEXT,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL,
            channel TEXT NOT NULL, seq INTEGER NOT NULL,
            created_at TEXT NOT NULL, created_ms INTEGER NOT NULL, received_at TEXT NOT NULL,
            answers TEXT NOT NULL, flags TEXT NOT NULL, clock_suspect INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX responses_unit_created ON responses (unit_code, created_ms)",
        """CREATE TABLE response_conflicts (
            id INTEGER PRIMARY KEY, response_id TEXT NOT NULL, device_id TEXT,
            record TEXT NOT NULL, received_at TEXT NOT NULL)""",
    ),
)
