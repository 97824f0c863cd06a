"""Portable SQL: recorded voice prompts (the content is a BLOB in SQLite, BYTEA in PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import PromptsArea


class SQLPrompts(PromptsArea):
    def prompts(self) -> list[dict]:
        rows = self._conn().execute("SELECT name, lang, sha256, bytes, duration_ms, uploaded_at, uploaded_by FROM prompts "
                                    "ORDER BY name, lang").fetchall()
        return [dict(r) for r in rows]

    def prompt(self, name: str, lang: str) -> dict | None:
        row = self._conn().execute("SELECT name, lang, sha256, bytes, duration_ms, content, uploaded_at, uploaded_by "
                                   "FROM prompts WHERE name = ? AND lang = ?", (name, lang)).fetchone()
        if row is None:
            return None
        prompt = dict(row)
        prompt["content"] = bytes(prompt["content"])  # a memoryview on some drivers
        return prompt

    def put_prompt(self, name: str, lang: str, content: bytes, sha256: str, duration_ms: int, now: datetime,
                   by: str | None) -> bool:
        def tx(c) -> bool:
            replaced = c.execute("DELETE FROM prompts WHERE name = ? AND lang = ?", (name, lang)).rowcount == 1
            c.execute("INSERT INTO prompts (name, lang, sha256, bytes, duration_ms, content, uploaded_at, uploaded_by) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (name, lang, sha256, len(content), duration_ms, content, format_rfc3339(now), by))
            return replaced
        return self._write(tx)

    def delete_prompt(self, name: str, lang: str) -> bool:
        return self._write(lambda c: c.execute("DELETE FROM prompts WHERE name = ? AND lang = ?", (name, lang)).rowcount) == 1
