"""Numbered, append-only migrations of the server's schema (one tuple of statements each).

Never edit a published step: add the next one. SQLite records the step reached in
``PRAGMA user_version``, PostgreSQL in the ``schema_version`` table. A statement is portable SQL
(SQLite's spelling; the PostgreSQL back end maps its types, see ``postgres.translate_ddl``), or a
:class:`PerDialect` where the two must differ.
"""

from __future__ import annotations

from typing import NamedTuple


class PerDialect(NamedTuple):
    """One migration statement spelled for each back end (``None``: nothing to run there)."""

    sqlite: str | None
    postgres: str | None


def statements(step: tuple, dialect: str) -> list[str]:
    """The statements of one step for ``dialect`` (``sqlite`` or ``postgres``), in order."""
    out = []
    for statement in step:
        if isinstance(statement, PerDialect):
            statement = getattr(statement, dialect)
        if statement is not None:
            out.append(statement)
    return out


MIGRATIONS: tuple[tuple[str | PerDialect, ...], ...] = (
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
    # 2: unit history and successor links, officers, campaigns, province config, people, audit.
    (
        # One row per version of a unit: an official code may name different units over time
        # (2025 reused one constituent commune's code for the merged commune). ``units`` keeps
        # the latest version of each code, so foreign keys and protocol v1 stay as they were.
        """CREATE TABLE unit_versions (
            code TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT, name TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('province', 'centre', 'district', 'commune')),
            parent_code TEXT, PRIMARY KEY (code, valid_from))""",
        """INSERT INTO unit_versions (code, valid_from, valid_to, name, level, parent_code)
            SELECT code, COALESCE(valid_from, '2023-01-01'), valid_to, name, level, parent_code FROM units""",
        "UPDATE units SET valid_from = '2023-01-01' WHERE valid_from IS NULL",
        # from_code's version ending on on_date continues (wholly or in part) as to_code's version starting then.
        """CREATE TABLE unit_links (
            from_code TEXT NOT NULL, to_code TEXT NOT NULL, on_date TEXT NOT NULL,
            PRIMARY KEY (from_code, to_code, on_date))""",
        "CREATE INDEX unit_links_to ON unit_links (to_code)",
        "ALTER TABLE units ADD COLUMN office_hours TEXT",
        """CREATE TABLE officers (
            id TEXT PRIMARY KEY, unit_code TEXT NOT NULL REFERENCES units (code), name TEXT NOT NULL,
            title TEXT, photo TEXT, pin_hash TEXT, active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX officers_unit ON officers (unit_code)",
        "ALTER TABLE questionnaires ADD COLUMN created_at TEXT",
        """CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, created_at TEXT NOT NULL,
            FOREIGN KEY (questionnaire_id, questionnaire_version) REFERENCES questionnaires (id, version))""",
        """CREATE TABLE campaign_units (
            campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
            unit_code TEXT NOT NULL REFERENCES units (code), PRIMARY KEY (campaign_id, unit_code))""",
        # Province-wide values set from the admin pages (JSON text): admin PIN hash, office hours, ...
        "CREATE TABLE server_config (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "ALTER TABLE enroll_codes ADD COLUMN label TEXT",
        "ALTER TABLE enroll_codes ADD COLUMN created_by TEXT",
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('province_admin', 'province_analyst', 'district_viewer', 'commune_viewer')),
            unit_code TEXT REFERENCES units (code), active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL, last_login_at TEXT)""",
        # The cookie holds a random id; only its SHA-256 is stored, so a copied database opens no session.
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            csrf TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, ip TEXT)""",
        "CREATE INDEX sessions_user ON sessions (user_id)",
        "CREATE TABLE login_failures (id INTEGER PRIMARY KEY, key TEXT NOT NULL, at_ms INTEGER NOT NULL)",
        "CREATE INDEX login_failures_key ON login_failures (key, at_ms)",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_id INTEGER, username TEXT,
            action TEXT NOT NULL, target TEXT, detail TEXT, ip TEXT)""",
    ),
    # 3: the phone (QR) channel: per-point sequence, abuse bookkeeping, dossier tokens, comments on kiosk
    # answers, and call-back contacts (kept apart from responses; purged after a retention period).
    (
        "CREATE TABLE phone_seq (unit_code TEXT PRIMARY KEY, last BIGINT NOT NULL)",
        # One row per form submission (refused ones too): browser and address only as keyed hashes.
        """CREATE TABLE phone_submissions (
            id INTEGER PRIMARY KEY, unit_code TEXT NOT NULL, browser_hash TEXT, ip_hash TEXT,
            day TEXT NOT NULL, at_ms BIGINT NOT NULL, response_id TEXT, outcome TEXT NOT NULL)""",
        "CREATE INDEX phone_submissions_browser ON phone_submissions (browser_hash, unit_code, day)",
        "CREATE INDEX phone_submissions_ip ON phone_submissions (ip_hash, at_ms)",
        """CREATE TABLE phone_tokens (
            token_hash TEXT PRIMARY KEY, unit_code TEXT NOT NULL REFERENCES units (code),
            created_at TEXT NOT NULL, expires_ms BIGINT NOT NULL, used_ms BIGINT, response_id TEXT)""",
        # response_id names the kiosk answer; it may arrive later (offline kiosk): linked by a join.
        """CREATE TABLE phone_comments (
            id INTEGER PRIMARY KEY, response_id TEXT NOT NULL UNIQUE, unit_code TEXT NOT NULL,
            comment TEXT NOT NULL, created_ms BIGINT NOT NULL)""",
        """CREATE TABLE phone_contacts (
            id INTEGER PRIMARY KEY, response_id TEXT NOT NULL, unit_code TEXT NOT NULL,
            phone TEXT NOT NULL, created_ms BIGINT NOT NULL)""",
        "CREATE INDEX phone_contacts_created ON phone_contacts (created_ms)",
    ),
    # Results (issue 5): rollups of answer counts kept up to date from ``responses`` past a
    # server_seq watermark (never inside the ingest transaction), and read-only API tokens for the
    # pull API. Counts are wide: c1..c5 count the levels of a scale question (n counts answers; the
    # question '' row counts responses). day = local day number, (ms + offset) // 86400000.
    (
        """CREATE TABLE rollup_day (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, channel TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, channel, questionnaire_id, questionnaire_version, question, flag_class))""",
        "CREATE INDEX rollup_day_unit ON rollup_day (unit_code, day)",
        """CREATE TABLE rollup_choice (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, questionnaire_id TEXT NOT NULL,
            questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL, option_id TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, questionnaire_id, questionnaire_version, question, option_id, flag_class))""",
        """CREATE TABLE rollup_officer (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, officer_id TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, officer_id, questionnaire_id, questionnaire_version, question, flag_class))""",
        "CREATE INDEX rollup_officer_unit ON rollup_officer (unit_code, day)",
        # The headline question by local month (yyyymm), weekday (0 = Monday) and hour: the heatmap.
        """CREATE TABLE rollup_hour (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, weekday INTEGER NOT NULL, hour INTEGER NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, flag_class TEXT NOT NULL,
            n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL, c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, weekday, hour, questionnaire_id, questionnaire_version, flag_class))""",
        "CREATE TABLE rollup_state (name TEXT PRIMARY KEY, last_seq BIGINT NOT NULL, offset_ms BIGINT NOT NULL)",
        # One token per client system; only its SHA-256 is stored. unit_code NULL = the whole province.
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE,
            unit_code TEXT REFERENCES units (code), created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT)""",
    ),
    # Results, coarser grains: months (any window = whole months + edge days) and the province's
    # daily totals without units (its timeline). Emptying the rollups makes the next refresh
    # rebuild all grains from the responses, which stay the source of truth.
    (
        """CREATE TABLE rollup_month (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, channel TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, channel, questionnaire_id, questionnaire_version, question, flag_class))""",
        """CREATE TABLE rollup_choice_month (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, questionnaire_id TEXT NOT NULL,
            questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL, option_id TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, questionnaire_id, questionnaire_version, question, option_id, flag_class))""",
        """CREATE TABLE rollup_total_day (
            day INTEGER NOT NULL, channel TEXT NOT NULL, questionnaire_id TEXT NOT NULL,
            questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL, flag_class TEXT NOT NULL,
            n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL, c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, channel, questionnaire_id, questionnaire_version, question, flag_class))""",
        # Covering indexes: the province's month and heatmap queries read the index alone.
        """CREATE INDEX rollup_month_cover ON rollup_month (month, unit_code, channel, questionnaire_id,
            questionnaire_version, question, flag_class, n, c1, c2, c3, c4, c5)""",
        """CREATE INDEX rollup_hour_cover ON rollup_hour (month, weekday, hour, questionnaire_id, questionnaire_version,
            flag_class, unit_code, n, c1, c2, c3, c4, c5)""",
        "DELETE FROM rollup_day",
        "DELETE FROM rollup_choice",
        "DELETE FROM rollup_officer",
        "DELETE FROM rollup_hour",
        "DELETE FROM rollup_state",
    ),
    # 6 (issue 5): the procedure group (lĩnh vực) an answer was about, each officer's usual group,
    # results by group, and the channel in the heatmap grain. The rollups are emptied: the next
    # refresh rebuilds them all from the responses.
    (
        "ALTER TABLE responses ADD COLUMN procedure_group TEXT",
        "ALTER TABLE officers ADD COLUMN procedure_group TEXT",
        "DROP INDEX rollup_hour_cover",
        "DROP TABLE rollup_hour",
        """CREATE TABLE rollup_hour (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, channel TEXT NOT NULL, weekday INTEGER NOT NULL,
            hour INTEGER NOT NULL, questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, flag_class TEXT NOT NULL,
            n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL, c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, channel, weekday, hour, questionnaire_id, questionnaire_version, flag_class))""",
        """CREATE INDEX rollup_hour_cover ON rollup_hour (month, weekday, hour, questionnaire_id, questionnaire_version,
            flag_class, channel, unit_code, n, c1, c2, c3, c4, c5)""",
        # Answers that name a group, by day and by month (answers without one are the rest of rollup_day).
        """CREATE TABLE rollup_group_day (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, channel TEXT NOT NULL, procedure_group TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, channel, procedure_group, questionnaire_id, questionnaire_version, question, flag_class))""",
        """CREATE TABLE rollup_group_month (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, channel TEXT NOT NULL, procedure_group TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, channel, procedure_group, questionnaire_id, questionnaire_version, question, flag_class))""",
        """CREATE INDEX rollup_group_month_cover ON rollup_group_month (month, procedure_group, questionnaire_id,
            questionnaire_version, question, flag_class, channel, unit_code, n, c1, c2, c3, c4, c5)""",
        "DELETE FROM rollup_state",
    ),
    # 7 (issue 11): where reports place an answer (placed_ms: its device time, or its receipt time or
    # the boot-clock estimate when the device's clock was off; NULL on older rows = decided by the
    # fold as before), the kiosk's boot id and monotonic clock per answer, each boot's anchor,
    # review of conflicts, the phone form's per-point address index, and the periodic duties' record.
    (
        "ALTER TABLE responses ADD COLUMN placed_ms INTEGER",
        "ALTER TABLE responses ADD COLUMN boot_id TEXT",
        "ALTER TABLE responses ADD COLUMN mono_ms INTEGER",
        "ALTER TABLE response_conflicts ADD COLUMN reviewed_at TEXT",
        "ALTER TABLE response_conflicts ADD COLUMN reviewed_by TEXT",
        "ALTER TABLE response_conflicts ADD COLUMN review_note TEXT",
        "CREATE INDEX phone_submissions_unit_ip ON phone_submissions (unit_code, ip_hash, day)",
        # anchor_ms = server time (UTC epoch ms) minus the boot's monotonic clock, as last seen.
        """CREATE TABLE device_boots (
            device_id TEXT NOT NULL, boot_id TEXT NOT NULL, anchor_ms INTEGER NOT NULL, seen_at TEXT NOT NULL,
            PRIMARY KEY (device_id, boot_id))""",
        """CREATE TABLE duties (
            name TEXT PRIMARY KEY, last_started_at TEXT, last_done_at TEXT, last_error TEXT, detail TEXT)""",
    ),
    # 8 (issue 12): the voice prompts the province recorded, one per prompt name and language; kiosks
    # learn them (name, lang, sha256, bytes) from the config and download the content with their token.
    # The content lives in the database: every server process and the backups see the same files.
    (
        PerDialect(
            sqlite="""CREATE TABLE prompts (
            name TEXT NOT NULL, lang TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL, content BLOB NOT NULL, uploaded_at TEXT NOT NULL, uploaded_by TEXT,
            PRIMARY KEY (name, lang))""",
            postgres="""CREATE TABLE prompts (
            name TEXT NOT NULL, lang TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL, content BYTEA NOT NULL, uploaded_at TEXT NOT NULL, uploaded_by TEXT,
            PRIMARY KEY (name, lang))"""),
    ),
    # 9 (issue 13): service points as they are. A unit (one version of it: a code reused with
    # another meaning is another unit) has sites (điểm tiếp nhận); a site has counters (quầy).
    # Kiosks enrol to a site and counter; officers may belong to a site; every answer records the
    # site it was given at. Each unit version's implicit point becomes its first site, and every
    # stored answer gains the first site of the unit version in force on its day (UTC+7, the
    # province's offset, as the rollups use). Successor links say whether a merge was partial.
    (
        """CREATE TABLE sites (
            id INTEGER PRIMARY KEY, unit_code TEXT NOT NULL, unit_valid_from TEXT NOT NULL,
            position INTEGER NOT NULL DEFAULT 1, name TEXT NOT NULL, address TEXT, office_hours TEXT,
            hotline TEXT, public_base_url TEXT, created_at TEXT NOT NULL, closed_at TEXT,
            UNIQUE (unit_code, unit_valid_from, position))""",
        "CREATE INDEX sites_unit ON sites (unit_code)",
        """CREATE TABLE counters (
            site_id INTEGER NOT NULL REFERENCES sites (id), code TEXT NOT NULL, name TEXT NOT NULL,
            closed_at TEXT, PRIMARY KEY (site_id, code))""",
        """INSERT INTO sites (unit_code, unit_valid_from, position, name, created_at)
            SELECT code, valid_from, 1, name, valid_from FROM unit_versions""",
        "ALTER TABLE responses ADD COLUMN site_id INTEGER",
        "ALTER TABLE devices ADD COLUMN site_id INTEGER",
        "ALTER TABLE devices ADD COLUMN counter TEXT",
        "ALTER TABLE enroll_codes ADD COLUMN site_id INTEGER",
        "ALTER TABLE enroll_codes ADD COLUMN counter TEXT",
        "ALTER TABLE officers ADD COLUMN site_id INTEGER",
        "ALTER TABLE unit_links ADD COLUMN partial INTEGER NOT NULL DEFAULT 0",
        PerDialect(
            sqlite="""UPDATE responses SET site_id = (
                SELECT s.id FROM sites s JOIN unit_versions v ON v.code = s.unit_code AND v.valid_from = s.unit_valid_from
                WHERE s.unit_code = responses.unit_code AND s.position = 1
                  AND v.valid_from <= date((COALESCE(responses.placed_ms, responses.created_ms) + 25200000) / 1000, 'unixepoch')
                ORDER BY v.valid_from DESC LIMIT 1)""",
            postgres="""UPDATE responses SET site_id = (
                SELECT s.id FROM sites s JOIN unit_versions v ON v.code = s.unit_code AND v.valid_from = s.unit_valid_from
                WHERE s.unit_code = responses.unit_code AND s.position = 1
                  AND v.valid_from <= to_char(to_timestamp((COALESCE(responses.placed_ms, responses.created_ms) + 25200000) / 1000.0)
                                              AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                ORDER BY v.valid_from DESC LIMIT 1)"""),
        # An answer from before its unit's first version (a clock far in the past): the earliest site.
        """UPDATE responses SET site_id = (SELECT MIN(s.id) FROM sites s WHERE s.unit_code = responses.unit_code)
            WHERE site_id IS NULL""",
        # A kiosk belongs to the unit version in force when it enrolled (its local date as stamped).
        """UPDATE devices SET site_id = COALESCE(
            (SELECT s.id FROM sites s WHERE s.unit_code = devices.unit_code AND s.position = 1
               AND s.unit_valid_from <= substr(devices.enrolled_at, 1, 10) ORDER BY s.unit_valid_from DESC LIMIT 1),
            (SELECT MIN(s.id) FROM sites s WHERE s.unit_code = devices.unit_code))""",
        "CREATE INDEX responses_site ON responses (site_id)",
    ),
    # 10 (issue 13): results by site. rollup_day and rollup_month gain the site an answer was given at
    # (responses.site_id; 0 when none was recorded), keyed right after the unit, so a unit's own points
    # (a district's counter, the centre's sites) are counted apart from its subtree. The site goes into
    # the primary key, so both tables are made anew; every rollup is emptied and the next refresh
    # rebuilds them all from the responses (the fold's version moves to 3 as well).
    (
        "DROP INDEX rollup_month_cover",
        "DROP INDEX rollup_day_unit",
        "DROP TABLE rollup_day",
        "DROP TABLE rollup_month",
        """CREATE TABLE rollup_day (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, site_id INTEGER NOT NULL, channel TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, site_id, channel, questionnaire_id, questionnaire_version, question, flag_class))""",
        "CREATE INDEX rollup_day_unit ON rollup_day (unit_code, day)",
        """CREATE TABLE rollup_month (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, site_id INTEGER NOT NULL, channel TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, site_id, channel, questionnaire_id, questionnaire_version, question, flag_class))""",
        """CREATE INDEX rollup_month_cover ON rollup_month (month, unit_code, site_id, channel, questionnaire_id,
            questionnaire_version, question, flag_class, n, c1, c2, c3, c4, c5)""",
        "DELETE FROM rollup_choice",
        "DELETE FROM rollup_officer",
        "DELETE FROM rollup_hour",
        "DELETE FROM rollup_choice_month",
        "DELETE FROM rollup_total_day",
        "DELETE FROM rollup_group_day",
        "DELETE FROM rollup_group_month",
        "DELETE FROM rollup_state",
    ),
    # 11 (issue 14): ratings tied to the dossier (mã hồ sơ) and the dossier register. An answer keeps
    # the receipt's code normalised (upper case; NULL when none was sent: the code as sent stays in the
    # record's content hash). One rating counts per dossier: the first the server receives that carries
    # no misuse flag claims the code in ``dossier_ratings`` (its primary key makes the claim exact with
    # any number of server processes); any other rating of a claimed dossier is kept and marked
    # ``dossier_repeat``. The register (``dossiers``) is what the one-stop information system exports:
    # dates are ISO text (YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS local time), complaint = a PAKN marker.
    # Answers stored before this step carry no code (the field is new with it): nothing to fill in.
    (
        "ALTER TABLE responses ADD COLUMN dossier_code TEXT",
        "ALTER TABLE responses ADD COLUMN dossier_repeat INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX responses_dossier ON responses (dossier_code) WHERE dossier_code IS NOT NULL",
        # placed_ms: where the results place the rating (responses.placed_ms), so a window's dossier
        # ratings are found without a time index on responses (which would slow every ingest).
        """CREATE TABLE dossier_ratings (
            dossier_code TEXT PRIMARY KEY, response_id TEXT NOT NULL UNIQUE, server_seq INTEGER NOT NULL,
            unit_code TEXT NOT NULL, channel TEXT NOT NULL, placed_ms INTEGER NOT NULL, claimed_at TEXT NOT NULL)""",
        "CREATE INDEX dossier_ratings_placed ON dossier_ratings (placed_ms)",
        """CREATE TABLE dossiers (
            code TEXT PRIMARY KEY, unit_code TEXT NOT NULL, site_id INTEGER, counter TEXT, field TEXT,
            procedure_name TEXT, received_on TEXT NOT NULL, due_on TEXT NOT NULL, returned_on TEXT, status TEXT,
            channel TEXT, complaint INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL, imported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX dossiers_unit ON dossiers (unit_code)",
        "CREATE INDEX dossiers_returned ON dossiers (returned_on)",
        "CREATE INDEX dossiers_due_open ON dossiers (due_on) WHERE returned_on IS NULL",
    ),
    # 12 (issue 16): remote diagnostics, one row per kiosk beside ``devices``. ``body`` is the last
    # heartbeat's ``diagnostics`` (JSON: self-test summary, disk, database size, uptime, clock) and
    # ``reported_at`` when it came. A province admin's request for the log's last lines stays open
    # (``log_request_*``) until the kiosk answers it; the answer replaces the previous one
    # (``log_*``, with who asked and when). Nothing to fill in: kiosks report from their next heartbeat.
    (
        """CREATE TABLE device_diagnostics (
            device_id TEXT PRIMARY KEY REFERENCES devices (id), reported_at TEXT, body TEXT,
            log_request_id TEXT, log_request_lines INTEGER, log_requested_at TEXT, log_requested_by TEXT,
            log_received_at TEXT, log_text TEXT, log_line_count INTEGER, log_truncated INTEGER NOT NULL DEFAULT 0,
            log_asked_at TEXT, log_asked_by TEXT)""",
    ),
    # 13 (issue 16): remote update. A release is a kiosk wheel kept in the database (every server
    # process and the backups see the same file; ``release_max_mb`` caps it), with its SHA-256 and
    # version (one release per version). A kiosk has at most one release staged for it
    # (``release_targets``, replaced by the next staging); its config names that release, and the
    # outcome its heartbeat reports (installed, rolled_back, failed, refused) is kept on the row.
    (
        PerDialect(
            sqlite="""CREATE TABLE releases (
            id INTEGER PRIMARY KEY, version TEXT NOT NULL UNIQUE, filename TEXT NOT NULL, sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL, content BLOB NOT NULL, notes TEXT, added_at TEXT NOT NULL, added_by TEXT)""",
            postgres="""CREATE TABLE releases (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, version TEXT NOT NULL UNIQUE, filename TEXT NOT NULL,
            sha256 TEXT NOT NULL, bytes BIGINT NOT NULL, content BYTEA NOT NULL, notes TEXT, added_at TEXT NOT NULL,
            added_by TEXT)"""),
        """CREATE TABLE release_targets (
            device_id TEXT PRIMARY KEY REFERENCES devices (id), release_id INTEGER NOT NULL REFERENCES releases (id),
            staged_at TEXT NOT NULL, staged_by TEXT, outcome TEXT, outcome_reason TEXT, outcome_at TEXT, reported_at TEXT,
            install_seconds REAL)""",
        "CREATE INDEX release_targets_release ON release_targets (release_id)",
    ),
    # 14 (issue 15): alerts that reach people. A channel (Telegram bot, Zalo Official Account, webhook)
    # covers the province (unit_code NULL) or a unit's subtree, and says whether its recipients may see
    # officer results; its secret (bot token, access token, signing key) is never shown back and is
    # deleted with the channel, which stays (removed_at) for its log. One delivery row per channel,
    # alert and window: the unique key makes any number of server processes queue it once; a sender
    # claims it (status ``sending``, a lease) before the HTTP call, and retries are kept on the row
    # (attempts, next_try_ms). Nothing to fill in: alerts are found from the answers of the last minutes.
    (
        """CREATE TABLE alert_channels (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('telegram', 'zalo', 'webhook')),
            target TEXT NOT NULL, secret TEXT, unit_code TEXT, officer_results INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, created_by TEXT, updated_at TEXT NOT NULL,
            removed_at TEXT)""",
        "CREATE UNIQUE INDEX alert_channels_name ON alert_channels (name) WHERE removed_at IS NULL",
        """CREATE TABLE alert_deliveries (
            id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL REFERENCES alert_channels (id), alert_key TEXT NOT NULL,
            window_no INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('alert', 'summary', 'test')), unit_code TEXT,
            payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try_ms INTEGER,
            lease_ms INTEGER, last_error TEXT, http_status INTEGER, summary_id INTEGER, created_ms INTEGER NOT NULL,
            created_at TEXT NOT NULL, sent_at TEXT, updated_at TEXT NOT NULL,
            UNIQUE (channel_id, alert_key, window_no))""",
        "CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_try_ms)",
        "CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, created_ms)",
    ),
    # 15 (issue 15): moderation of citizens' written comments. A comment is a text answer of the phone
    # form (response id + question id) or the comment written through a kiosk answer's thank-you QR
    # (``phone_comments``, keyed by its response id with question ''). Hiding keeps the text where it is
    # (never deleted: the audit log says who hid or showed it, when and why); this row holds only the
    # current state and its last reason. Nothing to fill in: every comment starts visible.
    (
        """CREATE TABLE comment_moderation (
            response_id TEXT NOT NULL, question TEXT NOT NULL, hidden INTEGER NOT NULL, reason TEXT NOT NULL,
            updated_at TEXT NOT NULL, updated_by TEXT, PRIMARY KEY (response_id, question))""",
    ),
    # 16 (issue 17): the office's sync server (relay). At the upstream, an enrolment code and a device
    # have a ``kind``: ``kiosk`` (all rows so far) or ``relay``, a server that stores and forwards for the
    # subtree of its unit; a relayed answer keeps the device it was given on (``device_id``: the
    # kiosk's id at the relay, NULL for a phone answer) and names the relay it came through
    # (``relay_id``). At the relay, ``upstream_link`` (one row) is where it forwards to, with its token;
    # answers go up in ``server_seq`` order (assigned in commit order: contract 12) behind the cursor
    # ``sent_seq``, conflicts behind ``sent_conflict``; an answer the upstream refused is kept aside in
    # ``upstream_refused`` with the reason. Nothing to fill in: existing rows are kiosks, and a relay
    # forwards everything it holds from its first enrolment upstream.
    (
        "ALTER TABLE enroll_codes ADD COLUMN kind TEXT NOT NULL DEFAULT 'kiosk'",
        "ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'kiosk'",
        "ALTER TABLE responses ADD COLUMN relay_id TEXT",
        """CREATE TABLE upstream_link (
            id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, token TEXT NOT NULL, device_id TEXT NOT NULL,
            unit_code TEXT NOT NULL, enrolled_at TEXT NOT NULL, sent_seq BIGINT NOT NULL DEFAULT 0,
            sent_conflict BIGINT NOT NULL DEFAULT 0, last_forward_at TEXT, last_attempt_at TEXT, last_error TEXT,
            last_error_at TEXT, forwarded BIGINT NOT NULL DEFAULT 0, config_etag TEXT, config_at TEXT,
            lease_owner TEXT, lease_ms BIGINT)""",
        """CREATE TABLE upstream_refused (
            response_id TEXT NOT NULL, kind TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
            at TEXT NOT NULL, PRIMARY KEY (response_id, kind))""",
    ),
    # 17 (issue 17): whether a relay takes its config from the upstream (``mirror_config`` 1: an office's
    # relay) or keeps its own (0: a province forwarding to a national collector, whose campaigns and
    # officers must not be replaced by the collector's). A link made before this step is an office's.
    (
        "ALTER TABLE upstream_link ADD COLUMN mirror_config INTEGER NOT NULL DEFAULT 1",
    ),
    # 18 (issue 13): the rollups that had no site get one: officers, weekday × hour and procedure groups
    # are keyed by the site an answer was given at (0: none recorded), right after the unit, as
    # rollup_day is (step 10). So a reused code's answers are told apart by their site's unit version
    # in every figure, not by date. The four tables are made anew and every rollup is emptied: the next
    # refresh rebuilds them from the responses (the fold's version moves to 6 as well).
    (
        "DROP INDEX rollup_officer_unit",
        "DROP TABLE rollup_officer",
        "DROP INDEX rollup_hour_cover",
        "DROP TABLE rollup_hour",
        "DROP INDEX rollup_group_month_cover",
        "DROP TABLE rollup_group_day",
        "DROP TABLE rollup_group_month",
        """CREATE TABLE rollup_officer (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, site_id INTEGER NOT NULL, officer_id TEXT NOT NULL,
            questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL, question TEXT NOT NULL,
            flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL,
            c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, site_id, officer_id, questionnaire_id, questionnaire_version, question, flag_class))""",
        "CREATE INDEX rollup_officer_unit ON rollup_officer (unit_code, day)",
        """CREATE TABLE rollup_hour (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, site_id INTEGER NOT NULL, channel TEXT NOT NULL,
            weekday INTEGER NOT NULL, hour INTEGER NOT NULL, questionnaire_id TEXT NOT NULL,
            questionnaire_version INTEGER NOT NULL, flag_class TEXT NOT NULL,
            n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL, c3 BIGINT NOT NULL, c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, site_id, channel, weekday, hour, questionnaire_id, questionnaire_version, flag_class))""",
        """CREATE INDEX rollup_hour_cover ON rollup_hour (month, weekday, hour, questionnaire_id, questionnaire_version,
            flag_class, channel, unit_code, site_id, n, c1, c2, c3, c4, c5)""",
        """CREATE TABLE rollup_group_day (
            day INTEGER NOT NULL, unit_code TEXT NOT NULL, site_id INTEGER NOT NULL, channel TEXT NOT NULL,
            procedure_group TEXT NOT NULL, questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL,
            question TEXT NOT NULL, flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL,
            c3 BIGINT NOT NULL, c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (day, unit_code, site_id, channel, procedure_group, questionnaire_id, questionnaire_version, question,
                         flag_class))""",
        """CREATE TABLE rollup_group_month (
            month INTEGER NOT NULL, unit_code TEXT NOT NULL, site_id INTEGER NOT NULL, channel TEXT NOT NULL,
            procedure_group TEXT NOT NULL, questionnaire_id TEXT NOT NULL, questionnaire_version INTEGER NOT NULL,
            question TEXT NOT NULL, flag_class TEXT NOT NULL, n BIGINT NOT NULL, c1 BIGINT NOT NULL, c2 BIGINT NOT NULL,
            c3 BIGINT NOT NULL, c4 BIGINT NOT NULL, c5 BIGINT NOT NULL,
            PRIMARY KEY (month, unit_code, site_id, channel, procedure_group, questionnaire_id, questionnaire_version, question,
                         flag_class))""",
        """CREATE INDEX rollup_group_month_cover ON rollup_group_month (month, procedure_group, questionnaire_id,
            questionnaire_version, question, flag_class, channel, unit_code, site_id, n, c1, c2, c3, c4, c5)""",
        "DELETE FROM rollup_day",
        "DELETE FROM rollup_month",
        "DELETE FROM rollup_choice",
        "DELETE FROM rollup_choice_month",
        "DELETE FROM rollup_total_day",
        "DELETE FROM rollup_state",
    ),
)
