"""Portable SQL: result rollups, the pull feed, API tokens.

The rollups are counts, kept up to date from ``responses`` past a ``server_seq`` watermark by
:mod:`sync_server.results.rollups`, which reads rows here, folds them (``results/fold.py``) and
hands the counts back to :meth:`SQLResults.add_rollups`: one short transaction that moves the
watermark only if it has not moved meanwhile, and adds the counts with ``ON CONFLICT … DO UPDATE``.
Scoring happens later in Python with the published questionnaire's levels, so the rollup never
needs rewriting when a report changes its formula.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from hailong_core.timeutil import format_rfc3339
from sync_server.days import month_spans, utc_ms
from sync_server.storage.areas import ResultsArea
from sync_server.storage.sql.dossiers import FOLD_FLAGS  # the stored flags plus a dossier's repeat mark (issue 14)
from sync_server.storage.types import StorageRefused

_STATE = "answers"
_BY = ("unit_code", "site_id", "channel", "day")
_COUNTS = "SUM(n), SUM(c1), SUM(c2), SUM(c3), SUM(c4), SUM(c5)"


def _in(codes: set[str] | None, column: str = "unit_code") -> tuple[str, list]:
    if codes is None:
        return "", []
    codes = sorted(codes)
    if not codes:
        return " AND 1 = 0", []
    return f" AND {column} IN ({','.join('?' * len(codes))})", codes


def _where(unit_codes: set[str] | None, **equal) -> tuple[str, list]:
    """:func:`_in` on the unit, plus ``AND column = ?`` for each keyword whose value is not None."""
    where, params = _in(unit_codes)
    for column, value in equal.items():
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    return where, params


def _months(month_from: int, month_to: int) -> tuple[str, list]:
    """``month`` condition: an equality for one month, so the covering indexes also give the GROUP BY order."""
    if month_from == month_to:
        return "month = ?", [month_from]
    return "month >= ? AND month <= ?", [month_from, month_to]


def _upsert(table: str, keys: tuple[str, ...], wide: bool) -> str:
    cols = keys + (("n", "c1", "c2", "c3", "c4", "c5") if wide else ("n",))
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in cols[len(keys):])
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}")


# Every rollup keyed by unit carries the site (schema steps 10 and 18; 0 = no site recorded), right after
# the unit, so the covering index also orders a report's GROUP BY (unit_code, site_id, channel, …) and a
# reused code's answers are told apart by their site's unit version in every figure.
_DAY_KEYS = ("day", "unit_code", "site_id", "channel", "questionnaire_id", "questionnaire_version", "question", "flag_class")
_CHOICE_KEYS = ("day", "unit_code", "questionnaire_id", "questionnaire_version", "question", "option_id", "flag_class")
_OFFICER_KEYS = ("day", "unit_code", "site_id", "officer_id", "questionnaire_id", "questionnaire_version", "question", "flag_class")
_HOUR_KEYS = ("month", "unit_code", "site_id", "channel", "weekday", "hour", "questionnaire_id", "questionnaire_version", "flag_class")
_GROUP_KEYS = ("day", "unit_code", "site_id", "channel", "procedure_group", "questionnaire_id", "questionnaire_version", "question", "flag_class")
_SQL_DAY = _upsert("rollup_day", _DAY_KEYS, True)
_SQL_CHOICE = _upsert("rollup_choice", _CHOICE_KEYS, False)
_SQL_OFFICER = _upsert("rollup_officer", _OFFICER_KEYS, True)
_SQL_HOUR = _upsert("rollup_hour", _HOUR_KEYS, True)
_MONTH_KEYS = ("month",) + _DAY_KEYS[1:]
_SQL_MONTH = _upsert("rollup_month", _MONTH_KEYS, True)
_SQL_CHOICE_MONTH = _upsert("rollup_choice_month", ("month",) + _CHOICE_KEYS[1:], False)
_SQL_TOTAL = _upsert("rollup_total_day", ("day",) + _DAY_KEYS[3:], True)
_SQL_GROUP = _upsert("rollup_group_day", _GROUP_KEYS, True)
_SQL_GROUP_MONTH = _upsert("rollup_group_month", ("month",) + _GROUP_KEYS[1:], True)
ROLLUP_TABLES = ("rollup_day", "rollup_choice", "rollup_officer", "rollup_hour", "rollup_month", "rollup_choice_month",
                 "rollup_total_day", "rollup_group_day", "rollup_group_month")
_UPSERTS = {"rollup_day": _SQL_DAY, "rollup_choice": _SQL_CHOICE, "rollup_officer": _SQL_OFFICER, "rollup_hour": _SQL_HOUR,
            "rollup_month": _SQL_MONTH, "rollup_choice_month": _SQL_CHOICE_MONTH, "rollup_total_day": _SQL_TOTAL,
            "rollup_group_day": _SQL_GROUP, "rollup_group_month": _SQL_GROUP_MONTH}


def _by_span(conn, month_table: str, day_table: str, counts: str, group: str, where: str, params: list,
             day_from: int, day_to: int) -> list[tuple]:
    """``SELECT group, counts … GROUP BY group`` over a window: whole months from ``month_table``,
    the edge days from ``day_table``, the parts' rows added up."""
    edges, months = month_spans(day_from, day_to)
    parts = []
    if months:
        span, args = _months(*months)
        parts.append(conn.execute(f"SELECT {group}, {counts} FROM {month_table} WHERE {span}{where} GROUP BY {group}",
                                  [*args, *params]).fetchall())
    for lo, hi in edges:
        parts.append(conn.execute(f"SELECT {group}, {counts} FROM {day_table} WHERE day >= ? AND day <= ?{where} GROUP BY {group}",
                                  [lo, hi, *params]).fetchall())
    if len(parts) == 1:  # one query: already one row per group
        return [tuple(r) for r in parts[0]]
    return _sum_rows([r for part in parts for r in part], group.count(",") + 1)


def _sum_rows(rows: list, width: int) -> list[tuple]:
    """Add rows with the same leading ``width`` columns."""
    out: dict[tuple, list] = {}
    for r in rows:
        key = tuple(r[:width])
        found = out.get(key)
        if found is None:
            out[key] = list(r[width:])
        else:
            for i, v in enumerate(r[width:]):
                found[i] += v
    return [k + tuple(v) for k, v in out.items()]


class SQLResults(ResultsArea):
    # --- rollups ------------------------------------------------------------------------------

    def rollup_state(self) -> tuple[int, int] | None:
        row = self._conn().execute("SELECT last_seq, offset_ms FROM rollup_state WHERE name = ?", (_STATE,)).fetchone()
        return (row[0], row[1]) if row else None

    def top_seq(self) -> int:
        return self._conn().execute("SELECT COALESCE(MAX(server_seq), 0) FROM responses").fetchone()[0]

    def reset_rollups(self, offset_ms: int) -> None:
        def tx(c) -> None:
            for table in ROLLUP_TABLES:
                c.execute(f"DELETE FROM {table}")
            c.execute("INSERT INTO rollup_state (name, last_seq, offset_ms) VALUES (?, 0, ?) "
                      "ON CONFLICT (name) DO UPDATE SET last_seq = 0, offset_ms = excluded.offset_ms", (_STATE, offset_ms))
        self._write(tx)

    def rows_to_fold(self, after_seq: int, limit: int) -> list[tuple]:
        conn = self._conn()
        self._tune_for_results(conn)
        return conn.execute(
            "SELECT server_seq, unit_code, officer_id, channel, questionnaire_id, questionnaire_version, created_ms, "
            f"received_at, answers, {FOLD_FLAGS} AS flags, clock_suspect, procedure_group, placed_ms, site_id FROM responses "
            "WHERE server_seq > ? ORDER BY server_seq LIMIT ?", (after_seq, limit)).fetchall()

    def token_phone_rows(self, ms_from: int, ms_to: int, unit_codes: set[str] | None = None) -> list[tuple]:
        where, params = _in(unit_codes)
        return self._conn().execute(
            "SELECT server_seq, unit_code, officer_id, channel, questionnaire_id, questionnaire_version, created_ms, "
            f"received_at, answers, {FOLD_FLAGS} AS flags, clock_suspect, procedure_group, placed_ms, site_id FROM responses "
            f"WHERE channel = 'qr' AND created_ms >= ? AND created_ms < ?{where} AND (flags LIKE ? OR id IN "
            "(SELECT response_id FROM phone_tokens WHERE response_id IS NOT NULL))",
            [ms_from, ms_to, *params, '%"dossier_token"%']).fetchall()

    def add_rollups(self, last_seq: int, new_last: int, offset_ms: int, counts: dict[str, list[tuple]]) -> bool:
        def tx(c) -> bool:
            # The watermark moves first, conditionally: a second process folding the same rows
            # finds it moved (it waits on the writers' lock, then reads the new value) and adds nothing.
            moved = c.execute("UPDATE rollup_state SET last_seq = ? WHERE name = ? AND last_seq = ? AND offset_ms = ?",
                              (new_last, _STATE, last_seq, offset_ms)).rowcount
            if moved != 1:
                return False
            for table, rows in counts.items():
                if rows:
                    c.executemany(_UPSERTS[table], rows)
            return True
        return self._write(tx)

    def rollup_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                      by: tuple[str, ...] = ("unit_code",), questions: list[str] | None = None) -> list[tuple]:
        assert all(b in _BY for b in by), by
        where, params = _in(unit_codes)
        if questions is not None:
            where += f" AND question IN ({','.join('?' * len(questions))})"
            params += list(questions)
        group = ", ".join(by + ("questionnaire_id", "questionnaire_version", "question", "flag_class"))
        conn = self._conn()
        if "day" in by:
            table = "rollup_total_day" if unit_codes is None and "unit_code" not in by and "site_id" not in by else "rollup_day"
            return [tuple(r) for r in conn.execute(
                f"SELECT {group}, {_COUNTS} FROM {table} WHERE day >= ? AND day <= ?{where} GROUP BY {group}",
                [day_from, day_to, *params])]
        return _by_span(conn, "rollup_month", "rollup_day", _COUNTS, group, where, params, day_from, day_to)

    def rollup_choice_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None) -> list[tuple]:
        where, params = _in(unit_codes)
        group = "questionnaire_id, questionnaire_version, question, option_id, flag_class"
        return _by_span(self._conn(), "rollup_choice_month", "rollup_choice", "SUM(n)", group, where, params, day_from, day_to)

    def rollup_officer_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                              officer_id: str | None = None, by_site: bool = False) -> list[tuple]:
        where, params = _where(unit_codes, officer_id=officer_id)
        group = ("unit_code, site_id, " if by_site else "") + "officer_id, unit_code, questionnaire_id, questionnaire_version, question, flag_class"
        rows = self._conn().execute(
            f"SELECT {group}, {_COUNTS} FROM rollup_officer WHERE day >= ? AND day <= ?{where} GROUP BY {group}",
            [day_from, day_to, *params]).fetchall()
        return [tuple(r) for r in rows]

    def rollup_hour_counts(self, month_from: int, month_to: int, unit_codes: set[str] | None = None,
                           channel: str | None = None, by_site: bool = False) -> list[tuple]:
        where, params = _where(unit_codes, channel=channel)
        group = ("unit_code, site_id, " if by_site else "") + "weekday, hour, questionnaire_id, questionnaire_version, flag_class"
        span, args = _months(month_from, month_to)
        rows = self._conn().execute(f"SELECT {group}, {_COUNTS} FROM rollup_hour WHERE {span}{where} GROUP BY {group}",
                                    [*args, *params]).fetchall()
        return [tuple(r) for r in rows]

    def rollup_group_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                            channel: str | None = None, by_site: bool = False) -> list[tuple]:
        where, params = _where(unit_codes, channel=channel)
        group = ("unit_code, site_id, " if by_site else "") + "procedure_group, questionnaire_id, questionnaire_version, question, flag_class"
        return _by_span(self._conn(), "rollup_group_month", "rollup_group_day", _COUNTS, group, where, params, day_from, day_to)

    # --- raw answers ------------------------------------------------------------------------

    def answers_after(self, since_seq: int, limit: int, unit_codes: set[str] | None = None) -> list[dict]:
        where, params = _in(unit_codes)
        rows = self._conn().execute(
            f"SELECT {_ANSWER_SELECT} FROM responses WHERE server_seq > ?{where} ORDER BY server_seq LIMIT ?",
            [since_seq, *params, limit]).fetchall()
        return [_answer(r) for r in rows]

    def recent_answers(self, since_ms: int, lag_ms: int = 300_000) -> list[dict]:
        conn = self._conn()
        start = self._first_received_since(conn, since_ms - lag_ms)
        if start is None:
            return []
        # Rows received since then whose (device) time is in the window; a clock-suspect row is
        # placed by its receipt time instead (contract 7), so it is checked after the read.
        rows = conn.execute(
            f"SELECT {_ANSWER_SELECT} FROM responses WHERE server_seq >= ? AND (created_ms >= ? OR clock_suspect = 1) "
            "ORDER BY server_seq", (start, since_ms)).fetchall()
        out = []
        for r in rows:
            a = _answer(r)
            if not a["clock_suspect"] or utc_ms(a["received_at"]) >= since_ms:
                out.append(a)
        return out

    @staticmethod
    def _first_received_since(conn, since_ms: int) -> int | None:
        """The first ``server_seq`` received at or after ``since_ms``, by bisecting the primary key.

        Bisects the keys ``x`` (gaps allowed) on "the first row at or after ``x`` was received by
        then". Receipt times rise with ``server_seq`` (one writer process; concurrent batches differ by
        well under the caller's lag margin), so about 25 key lookups find the window's start in
        any number of rows, with no index on time (which would slow every ingest).
        """
        # Two statements: SQLite answers a lone MIN() or MAX() from the key, but both in one scan the table.
        hi = conn.execute("SELECT MAX(server_seq) FROM responses").fetchone()[0]
        if hi is None:
            return None
        lo = conn.execute("SELECT MIN(server_seq) FROM responses").fetchone()[0]
        probe = "SELECT server_seq, received_at FROM responses WHERE server_seq >= ? ORDER BY server_seq LIMIT 1"
        last = conn.execute(probe, (hi,)).fetchone()
        if utc_ms(last[1]) < since_ms:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            seq, received = conn.execute(probe, (mid,)).fetchone()
            if utc_ms(received) >= since_ms:
                hi = mid
            else:
                lo = seq + 1
        return lo

    # --- API tokens -----------------------------------------------------------------------------

    def add_api_token(self, name: str, token_hash: str, unit_code: str | None, now: datetime) -> int:
        def tx(c) -> int:
            if c.execute("SELECT 1 FROM api_tokens WHERE name = ?", (name,)).fetchone():
                raise StorageRefused("name_taken", f"an API token named {name!r} exists; revoke it or pick another name")
            return c.execute("INSERT INTO api_tokens (name, token_hash, unit_code, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                             (name, token_hash, unit_code, format_rfc3339(now))).fetchone()[0]
        return self._write(tx)

    def api_token_by_hash(self, token_hash: str) -> dict | None:
        row = self._conn().execute("SELECT id, name, unit_code, revoked_at FROM api_tokens WHERE token_hash = ?",
                                   (token_hash,)).fetchone()
        return dict(zip(("id", "name", "unit_code", "revoked_at"), row)) if row else None

    def api_tokens(self) -> list[dict]:
        cols = ("id", "name", "unit_code", "created_at", "revoked_at")
        rows = self._conn().execute(f"SELECT {', '.join(cols)} FROM api_tokens ORDER BY name").fetchall()
        return [dict(zip(cols, r)) for r in rows]

    def revoke_api_token(self, name: str, now: datetime) -> bool:
        return self._write(lambda c: c.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                                               (format_rfc3339(now), name)).rowcount == 1)


_ANSWER_COLS = ("server_seq", "id", "unit_code", "officer_id", "questionnaire_id", "questionnaire_version", "channel", "seq",
                "created_at", "received_at", "answers", "flags", "clock_suspect", "procedure_group", "site_id")
_ANSWER_SELECT = ", ".join(_ANSWER_COLS)


def _answer(row: Any) -> dict:
    out = dict(zip(_ANSWER_COLS, row))
    try:
        out["answers"] = orjson.loads(out["answers"])
        out["flags"] = orjson.loads(out["flags"])
    except orjson.JSONDecodeError:
        # Only a hand-edited row can be unreadable (ingest writes canonical JSON): it stays in the
        # feed (exactly once) but counts nowhere.
        out["answers"], out["flags"] = {}, ["unreadable"]
    out["clock_suspect"] = bool(out["clock_suspect"])
    return out


__all__ = ["SQLResults", "ROLLUP_TABLES"]
