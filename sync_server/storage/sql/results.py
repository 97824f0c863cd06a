"""Portable SQL: result rollups, the pull feed, API tokens.

The rollups are counts, kept up to date from ``responses`` past a ``server_seq`` watermark. A
refresh reads and folds new rows *outside* the write lock (ingest keeps its pace), then, in one
short transaction, checks that the watermark has not moved and adds the counts with
``ON CONFLICT … DO UPDATE`` (portable SQL). Scoring happens later in Python with the published
questionnaire's levels, so the rollup never needs rewriting when a report changes its formula.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from typing import Any

import orjson

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import ResultsArea
from sync_server.storage.types import StorageRefused

# Misuse flags (contract 8: cooldown, burst, repeat, rate_limited) are defined once, beside the record.
from hailong_core.response import MISUSE_FLAGS  # noqa: E402,F401

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
INCOMPLETE_FLAG = "incomplete"
_STATE = "answers"
_BY = ("unit_code", "channel", "day")
_COUNTS = "SUM(n), SUM(c1), SUM(c2), SUM(c3), SUM(c4), SUM(c5)"
_EPOCH = date(1970, 1, 1)


def flag_class(flags: list) -> str:
    """``misuse`` (cooldown, burst, rate limited) over ``incomplete`` over ``ok``; other flags count."""
    if not flags:
        return "ok"
    if MISUSE_FLAGS.intersection(flags):
        return "misuse"
    return "incomplete" if INCOMPLETE_FLAG in flags else "ok"


def day_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


def date_day(d: date) -> int:
    return (d - _EPOCH).days


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


def _received_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class _Fold:
    """Counts of one chunk of responses, keyed as the rollup tables are."""

    def __init__(self, offset_ms: int, kinds: dict):
        self.offset = offset_ms
        self.kinds = kinds
        self.day: dict[tuple, list[int]] = {}
        self.choice: dict[tuple, int] = {}
        self.officer: dict[tuple, list[int]] = {}
        self.hour: dict[tuple, list[int]] = {}
        self.group: dict[tuple, list[int]] = {}
        self._months: dict[int, int] = {}

    def month(self, day: int) -> int:
        m = self._months.get(day)
        if m is None:
            d = day_date(day)
            m = self._months[day] = d.year * 100 + d.month
        return m

    def add(self, unit, officer, channel, qid, ver, created_ms, received_at, answers, flags, suspect, group=None) -> None:
        # Contract 7: a device whose clock was off is placed by the server's receipt time.
        ms = _received_ms(received_at) if suspect else created_ms
        local = ms + self.offset
        day = local // DAY_MS
        fc = flag_class(orjson.loads(flags))
        key = (day, unit, channel, qid, ver, "", fc)
        row = self.day.get(key)
        if row is None:
            self.day[key] = [1, 0, 0, 0, 0, 0]
        else:
            row[0] += 1
        group_t = self.group
        if group:
            k = (day, unit, channel, group, qid, ver, "", fc)
            row = group_t.get(k)
            if row is None:
                group_t[k] = [1, 0, 0, 0, 0, 0]
            else:
                row[0] += 1
        kinds, headline = self.kinds.get((qid, ver), _NO_KINDS)
        # The counting below is written out per table on purpose: it runs for every scale answer of
        # every response (a 5 M-answer rebuild), where a helper call per table costs seconds.
        day_t, officer_t = self.day, self.officer
        for question, value in orjson.loads(answers).items():
            kind = kinds.get(question)
            if kind == "scale":
                if type(value) is not int or not 1 <= value <= 5:
                    continue
                k = (day, unit, channel, qid, ver, question, fc)
                row = day_t.get(k)
                if row is None:
                    row = day_t[k] = [0, 0, 0, 0, 0, 0]
                row[0] += 1
                row[value] += 1
                if officer:
                    k = (day, unit, officer, qid, ver, question, fc)
                    row = officer_t.get(k)
                    if row is None:
                        row = officer_t[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    row[value] += 1
                if group:
                    k = (day, unit, channel, group, qid, ver, question, fc)
                    row = group_t.get(k)
                    if row is None:
                        row = group_t[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    row[value] += 1
                if question == headline:
                    k = (self.month(day), unit, channel, (day + 3) % 7, (local % DAY_MS) // HOUR_MS, qid, ver, fc)
                    row = self.hour.get(k)
                    if row is None:
                        row = self.hour[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    row[value] += 1
            elif kind == "single" or kind == "multi":
                for option in (value if isinstance(value, list) else (value,)):
                    k = (day, unit, qid, ver, question, str(option), fc)
                    self.choice[k] = self.choice.get(k, 0) + 1


_NO_KINDS: tuple[dict, None] = ({}, None)


def _upsert(table: str, keys: tuple[str, ...], wide: bool) -> str:
    cols = keys + (("n", "c1", "c2", "c3", "c4", "c5") if wide else ("n",))
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in cols[len(keys):])
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}")


_DAY_KEYS = ("day", "unit_code", "channel", "questionnaire_id", "questionnaire_version", "question", "flag_class")
_CHOICE_KEYS = ("day", "unit_code", "questionnaire_id", "questionnaire_version", "question", "option_id", "flag_class")
_OFFICER_KEYS = ("day", "unit_code", "officer_id", "questionnaire_id", "questionnaire_version", "question", "flag_class")
_HOUR_KEYS = ("month", "unit_code", "channel", "weekday", "hour", "questionnaire_id", "questionnaire_version", "flag_class")
_GROUP_KEYS = ("day", "unit_code", "channel", "procedure_group", "questionnaire_id", "questionnaire_version", "question", "flag_class")
_SQL_DAY = _upsert("rollup_day", _DAY_KEYS, True)
_SQL_CHOICE = _upsert("rollup_choice", _CHOICE_KEYS, False)
_SQL_OFFICER = _upsert("rollup_officer", _OFFICER_KEYS, True)
_SQL_HOUR = _upsert("rollup_hour", _HOUR_KEYS, True)
_MONTH_KEYS = ("month",) + _DAY_KEYS[1:]
_SQL_MONTH = _upsert("rollup_month", _MONTH_KEYS, True)
_SQL_CHOICE_MONTH = _upsert("rollup_choice_month", ("month",) + _CHOICE_KEYS[1:], False)
_SQL_TOTAL = _upsert("rollup_total_day", ("day",) + _DAY_KEYS[2:], True)
_SQL_GROUP = _upsert("rollup_group_day", _GROUP_KEYS, True)
_SQL_GROUP_MONTH = _upsert("rollup_group_month", ("month",) + _GROUP_KEYS[1:], True)
_TABLES = ("rollup_day", "rollup_choice", "rollup_officer", "rollup_hour", "rollup_month", "rollup_choice_month", "rollup_total_day",
           "rollup_group_day", "rollup_group_month")


def _add_into(table: dict[tuple, list[int]], key: tuple, counts: list[int]) -> None:
    row = table.get(key)
    if row is None:
        table[key] = list(counts)
    else:
        for i in range(6):
            row[i] += counts[i]


def _coarser(fold: "_Fold") -> tuple[dict, dict, dict, dict]:
    """Month and province-total grains (and groups by month), summed from a chunk's daily counts."""
    month: dict[tuple, list[int]] = {}
    total: dict[tuple, list[int]] = {}
    for (day, *rest), counts in fold.day.items():
        _add_into(month, (fold.month(day), *rest), counts)
        _add_into(total, (day, *rest[1:]), counts)
    choice: dict[tuple, int] = {}
    for (day, *rest), n in fold.choice.items():
        key = (fold.month(day), *rest)
        choice[key] = choice.get(key, 0) + n
    group: dict[tuple, list[int]] = {}
    for (day, *rest), counts in fold.group.items():
        _add_into(group, (fold.month(day), *rest), counts)
    return month, choice, total, group


def month_spans(day_from: int, day_to: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Split a window into edge day ranges and whole months ``(yyyymm from, yyyymm to)``."""
    start, end = day_date(day_from), day_date(day_to)
    first_full = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = end + timedelta(days=1)
    last_full_end = after if after.day == 1 else after.replace(day=1)  # exclusive
    if first_full >= last_full_end:
        return [(day_from, day_to)], None
    edges = []
    if first_full > start:
        edges.append((day_from, date_day(first_full) - 1))
    if last_full_end <= end:
        edges.append((date_day(last_full_end), day_to))
    last_month = last_full_end - timedelta(days=1)
    return edges, (first_full.year * 100 + first_full.month, last_month.year * 100 + last_month.month)


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

    def _question_kinds(self) -> dict[tuple[str, int], tuple[dict[str, str], str | None]]:
        """``(id, version) → ({question: kind}, headline question id)`` of the published questionnaires."""
        out = {}
        for key, doc in self.questionnaires().items():
            questions = doc.get("questions") or []
            kinds = {q["id"]: q["kind"] for q in questions}
            headline = next((q["id"] for q in questions if q["kind"] == "scale" and "show_if" not in q), None)
            out[key] = (kinds, headline)
        return out

    def refresh_results(self, offset_ms: int, chunk: int = 50_000) -> int:
        conn = self._conn()
        self._tune_for_results(conn)
        top = conn.execute("SELECT COALESCE(MAX(server_seq), 0) FROM responses").fetchone()[0]
        state = conn.execute("SELECT last_seq, offset_ms FROM rollup_state WHERE name = ?", (_STATE,)).fetchone()
        if state is not None and state[1] == offset_ms and state[0] >= top:
            return 0  # the common case on a page view: one indexed MAX and one key lookup
        if state is None or state[1] != offset_ms:
            def reset(c) -> None:
                for table in _TABLES:
                    c.execute(f"DELETE FROM {table}")
                c.execute("INSERT INTO rollup_state (name, last_seq, offset_ms) VALUES (?, 0, ?) "
                          "ON CONFLICT (name) DO UPDATE SET last_seq = 0, offset_ms = excluded.offset_ms", (_STATE, offset_ms))
            self._write(reset)
        kinds = self._question_kinds()
        folded = 0
        while True:
            last = conn.execute("SELECT last_seq FROM rollup_state WHERE name = ?", (_STATE,)).fetchone()[0]
            rows = conn.execute(
                "SELECT server_seq, unit_code, officer_id, channel, questionnaire_id, questionnaire_version, created_ms, "
                "received_at, answers, flags, clock_suspect, procedure_group FROM responses WHERE server_seq > ? "
                "ORDER BY server_seq LIMIT ?",
                (last, chunk)).fetchall()
            if not rows:
                break
            fold = _Fold(offset_ms, kinds)
            add = fold.add
            for r in rows:
                add(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11])
            new_last = rows[-1][0]

            def tx(c, last=last, new_last=new_last, fold=fold) -> bool:
                now = c.execute("SELECT last_seq FROM rollup_state WHERE name = ?", (_STATE,)).fetchone()[0]
                if now != last:
                    return False  # another refresh folded these rows first: drop ours
                c.executemany(_SQL_DAY, [k + tuple(v) for k, v in fold.day.items()])
                c.executemany(_SQL_CHOICE, [k + (v,) for k, v in fold.choice.items()])
                c.executemany(_SQL_OFFICER, [k + tuple(v) for k, v in fold.officer.items()])
                c.executemany(_SQL_HOUR, [k + tuple(v) for k, v in fold.hour.items()])
                month, choice_month, total, group_month = _coarser(fold)
                c.executemany(_SQL_GROUP, [k + tuple(v) for k, v in fold.group.items()])
                c.executemany(_SQL_GROUP_MONTH, [k + tuple(v) for k, v in group_month.items()])
                c.executemany(_SQL_MONTH, [k + tuple(v) for k, v in month.items()])
                c.executemany(_SQL_CHOICE_MONTH, [k + (v,) for k, v in choice_month.items()])
                c.executemany(_SQL_TOTAL, [k + tuple(v) for k, v in total.items()])
                c.execute("UPDATE rollup_state SET last_seq = ? WHERE name = ?", (new_last, _STATE))
                return True
            if self._write(tx):
                folded += len(rows)
            if len(rows) < chunk:
                break
        return folded

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
            table = "rollup_total_day" if unit_codes is None and "unit_code" not in by else "rollup_day"
            return [tuple(r) for r in conn.execute(
                f"SELECT {group}, {_COUNTS} FROM {table} WHERE day >= ? AND day <= ?{where} GROUP BY {group}",
                [day_from, day_to, *params])]
        return _by_span(conn, "rollup_month", "rollup_day", _COUNTS, group, where, params, day_from, day_to)

    def rollup_choice_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None) -> list[tuple]:
        where, params = _in(unit_codes)
        group = "questionnaire_id, questionnaire_version, question, option_id, flag_class"
        return _by_span(self._conn(), "rollup_choice_month", "rollup_choice", "SUM(n)", group, where, params, day_from, day_to)

    def rollup_officer_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                              officer_id: str | None = None) -> list[tuple]:
        where, params = _where(unit_codes, officer_id=officer_id)
        group = "officer_id, unit_code, questionnaire_id, questionnaire_version, question, flag_class"
        rows = self._conn().execute(
            f"SELECT {group}, {_COUNTS} FROM rollup_officer WHERE day >= ? AND day <= ?{where} GROUP BY {group}",
            [day_from, day_to, *params]).fetchall()
        return [tuple(r) for r in rows]

    def rollup_hour_counts(self, month_from: int, month_to: int, unit_codes: set[str] | None = None,
                           channel: str | None = None) -> list[tuple]:
        where, params = _where(unit_codes, channel=channel)
        group = "weekday, hour, questionnaire_id, questionnaire_version, flag_class"
        span, args = _months(month_from, month_to)
        rows = self._conn().execute(f"SELECT {group}, {_COUNTS} FROM rollup_hour WHERE {span}{where} GROUP BY {group}",
                                    [*args, *params]).fetchall()
        return [tuple(r) for r in rows]

    def rollup_group_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                            channel: str | None = None) -> list[tuple]:
        where, params = _where(unit_codes, channel=channel)
        group = "procedure_group, questionnaire_id, questionnaire_version, question, flag_class"
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
            if not a["clock_suspect"] or _received_ms(a["received_at"]) >= since_ms:
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
        if _received_ms(last[1]) < since_ms:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            seq, received = conn.execute(probe, (mid,)).fetchone()
            if _received_ms(received) >= since_ms:
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
                "created_at", "received_at", "answers", "flags", "clock_suspect", "procedure_group")
_ANSWER_SELECT = ", ".join(_ANSWER_COLS)


def _answer(row: Any) -> dict:
    out = dict(zip(_ANSWER_COLS, row))
    out["answers"] = orjson.loads(out["answers"])
    out["flags"] = orjson.loads(out["flags"])
    out["clock_suspect"] = bool(out["clock_suspect"])
    return out


__all__ = ["SQLResults", "flag_class", "day_date", "date_day", "MISUSE_FLAGS", "DAY_MS"]
