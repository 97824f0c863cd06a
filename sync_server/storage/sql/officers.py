"""Portable SQL: officer rosters."""

from __future__ import annotations

from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import OfficersArea

_FIELDS = ("unit_code", "name", "title", "photo", "pin_hash", "active", "procedure_group", "site_id")


class SQLOfficers(OfficersArea):
    def officers(self, unit_codes: set[str] | None = None, *, active_only: bool = False) -> list[dict]:
        rows = self._conn().execute(
            "SELECT id, unit_code, name, title, photo, pin_hash, active, procedure_group, site_id FROM officers "
            "ORDER BY unit_code, name, id").fetchall()
        out = []
        for r in rows:
            if (unit_codes is not None and r["unit_code"] not in unit_codes) or (active_only and not r["active"]):
                continue
            row = dict(r)
            row["has_pin"] = row.pop("pin_hash") is not None
            row["active"] = bool(row["active"])
            out.append(row)
        return out

    def officer_ids(self, unit_code: str) -> set[str]:
        return {r[0] for r in self._conn().execute("SELECT id FROM officers WHERE unit_code = ?", (unit_code,))}

    def officer(self, officer_id: str) -> dict | None:
        row = self._conn().execute("SELECT id, unit_code, name, title, photo, pin_hash, active, procedure_group, site_id, "
                                   "created_at, updated_at FROM officers WHERE id = ?", (officer_id,)).fetchone()
        if row is None:
            return None
        officer = dict(row)
        officer["active"] = bool(officer["active"])
        return officer

    def add_officer(self, officer_id: str, unit_code: str, name: str, title: str | None, photo: str | None,
                    pin_hash: str | None, now: datetime, *, site_id: int | None = None) -> None:
        stamp = format_rfc3339(now)
        self._write(lambda c: c.execute(
            "INSERT INTO officers (id, unit_code, name, title, photo, pin_hash, active, site_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)", (officer_id, unit_code, name, title, photo, pin_hash, site_id, stamp, stamp)))

    def update_officer(self, officer_id: str, now: datetime, **fields) -> bool:
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise TypeError(f"unknown officer field(s): {', '.join(sorted(unknown))}")
        if not fields:
            return self.officer(officer_id) is not None
        if "active" in fields:
            fields["active"] = int(bool(fields["active"]))
        names = list(fields)
        sets = ", ".join(f"{n} = ?" for n in names)
        values = [fields[n] for n in names] + [format_rfc3339(now), officer_id]
        return self._write(lambda c: c.execute(f"UPDATE officers SET {sets}, updated_at = ? WHERE id = ?", values).rowcount) == 1

    def kiosk_officers(self, unit_code: str, site_id: int | None = None) -> list[dict]:
        # A kiosk at a site carries the unit's officers of no site and those of its site, not the other sites'.
        where, params = "unit_code = ? AND active = 1", [unit_code]
        if site_id is not None:
            where += " AND (site_id IS NULL OR site_id = ?)"
            params.append(int(site_id))
        rows = self._conn().execute(f"SELECT id, name, title, photo, pin_hash, procedure_group FROM officers WHERE {where} "
                                    "ORDER BY name, id", tuple(params)).fetchall()
        return [dict(r) for r in rows]
