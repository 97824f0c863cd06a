"""Portable SQL: the record of the periodic duties (``hailong-server maintain`` and its schedule)."""

from __future__ import annotations

from sync_server.storage.areas import DutiesArea


class SQLDuties(DutiesArea):
    def claim_duty(self, name: str, now: str, not_before: str | None) -> bool:
        def tx(c) -> bool:
            c.execute("INSERT INTO duties (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
            if not_before is None:
                sql, args = "UPDATE duties SET last_started_at = ? WHERE name = ?", (now, name)
            else:
                sql = ("UPDATE duties SET last_started_at = ? WHERE name = ? "
                       "AND (last_started_at IS NULL OR last_started_at < ?)")
                args = (now, name, not_before)
            return c.execute(sql, args).rowcount == 1
        return self._write(tx)

    def finish_duty(self, name: str, now: str, error: str | None, detail: str | None) -> None:
        if error is None:
            self._write(lambda c: c.execute("UPDATE duties SET last_done_at = ?, last_error = NULL, detail = ? WHERE name = ?",
                                            (now, detail, name)))
        else:
            self._write(lambda c: c.execute("UPDATE duties SET last_error = ?, detail = ? WHERE name = ?", (error, detail, name)))

    def duties(self) -> list[dict]:
        cols = ("name", "last_started_at", "last_done_at", "last_error", "detail")
        return [dict(zip(cols, r)) for r in self._conn().execute(f"SELECT {', '.join(cols)} FROM duties ORDER BY name")]
