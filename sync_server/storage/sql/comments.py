"""Portable SQL: citizens' written comments and their moderation (issue 15, schema step 15).

Comments are read where they were stored (text answers in ``responses.answers``, link comments in
``phone_comments``); ``comment_moderation`` holds only whether one is hidden, and why. A hide or an
unhide and its audit entry commit in one transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

import orjson

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import CommentsArea
from sync_server.storage.types import User

_AUDIT = "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)"
# The answer's site and officer, by name (the use case decides who may see the officer).
_JOINS = ("LEFT JOIN sites s ON s.id = r.site_id LEFT JOIN officers o ON o.id = r.officer_id")
_ANSWER = ("r.site_id, s.name AS site_name, s.unit_valid_from AS site_unit_valid_from, r.officer_id, o.name AS officer_name, "
           "r.questionnaire_id, r.questionnaire_version, r.answers")


def _in(codes: set[str] | None, column: str) -> tuple[str, list]:
    if codes is None:
        return "", []
    codes = sorted(codes)
    if not codes:
        return " AND 1 = 0", []
    return f" AND {column} IN ({','.join('?' * len(codes))})", codes


def _answers(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


class SQLComments(CommentsArea):
    def _moderation(self, conn, response_ids: list[str]) -> dict[str, dict[str, dict]]:
        out: dict[str, dict[str, dict]] = {}
        for i in range(0, len(response_ids), 500):
            chunk = response_ids[i:i + 500]
            rows = conn.execute("SELECT response_id, question, hidden, reason, updated_at, updated_by FROM comment_moderation "
                                f"WHERE response_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            for r in rows:
                out.setdefault(r["response_id"], {})[r["question"]] = {
                    "hidden": bool(r["hidden"]), "reason": r["reason"], "updated_at": r["updated_at"], "updated_by": r["updated_by"]}
        return out

    def form_comment_rows(self, ms_from: int, ms_to: int, unit_codes: set[str] | None, text_questions: list[str]) -> list[dict]:
        if not text_questions:
            return []
        where, params = _in(unit_codes, "r.unit_code")
        # Answers are canonical JSON ("id":"text"): a LIKE per text question skips the ratings without a comment.
        likes = " OR ".join("r.answers LIKE ?" for _ in text_questions)
        conn = self._conn()
        rows = conn.execute(
            f"SELECT r.id AS response_id, r.unit_code, r.created_ms, {_ANSWER} FROM responses r {_JOINS} "
            f"WHERE r.channel = 'qr' AND r.created_ms >= ? AND r.created_ms < ?{where} AND ({likes}) "
            "ORDER BY r.created_ms DESC, r.server_seq DESC",
            [ms_from, ms_to, *params, *(f'%"{q}":"%' for q in text_questions)]).fetchall()
        out = [dict(r, answers=_answers(r["answers"])) for r in rows]
        moderation = self._moderation(conn, [r["response_id"] for r in out])
        for r in out:
            r["moderation"] = moderation.get(r["response_id"], {})
        return out

    def link_comment_rows(self, ms_from: int, ms_to: int, unit_codes: set[str] | None) -> list[dict]:
        where, params = _in(unit_codes, "pc.unit_code")
        conn = self._conn()
        # The answer may not have arrived yet (a kiosk syncs later): a left join on the id and the unit.
        rows = conn.execute(
            f"SELECT pc.response_id, pc.unit_code, pc.comment, pc.created_ms, {_ANSWER} FROM phone_comments pc "
            "LEFT JOIN responses r ON r.id = pc.response_id AND r.unit_code = pc.unit_code "
            f"{_JOINS} WHERE pc.created_ms >= ? AND pc.created_ms < ?{where} ORDER BY pc.created_ms DESC, pc.id DESC",
            [ms_from, ms_to, *params]).fetchall()
        out = [dict(r, answers=_answers(r["answers"])) for r in rows]
        moderation = self._moderation(conn, [r["response_id"] for r in out])
        for r in out:
            r["moderation"] = moderation.get(r["response_id"], {})
        return out

    def set_comment_hidden(self, response_id: str, question: str, hidden: bool, reason: str, now: datetime,
                           user: User | None, ip: str | None = None) -> bool:
        at = format_rfc3339(now)
        by = user.username if user else None

        def tx(c) -> bool:
            row = c.execute("SELECT hidden FROM comment_moderation WHERE response_id = ? AND question = ?",
                            (response_id, question)).fetchone()
            if bool(row["hidden"] if row else False) == hidden:
                return False
            c.execute("INSERT INTO comment_moderation (response_id, question, hidden, reason, updated_at, updated_by) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (response_id, question) DO UPDATE SET hidden = excluded.hidden, "
                      "reason = excluded.reason, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                      (response_id, question, int(hidden), reason, at, by))
            detail = {"question": question or None, "reason": reason}
            c.execute(_AUDIT, (at, user.id if user else None, by, "comment.hide" if hidden else "comment.unhide",
                               response_id, json.dumps(detail, ensure_ascii=False, sort_keys=True), ip))
            return True
        return self._write(tx)


__all__ = ["SQLComments"]
