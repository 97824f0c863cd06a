"""Portable SQL: sites (điểm tiếp nhận) of a unit version, and their counters (quầy)."""

from __future__ import annotations

import json
from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import SitesArea
from sync_server.storage.types import StorageRefused

_COLS = "id, unit_code, unit_valid_from, position, name, address, office_hours, hotline, public_base_url, created_at, closed_at"
_EDITABLE = ("name", "address", "hotline", "public_base_url", "office_hours")


def _site(row, counters: list[dict]) -> dict:
    site = dict(row)
    site["office_hours"] = json.loads(site["office_hours"]) if site["office_hours"] else None
    site["counters"] = counters
    return site


def open_version_sql() -> str:
    """The version of a code in force on a day: ``valid_from <= day < valid_to`` (two parameters: day, day)."""
    return "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"


class SQLSites(SitesArea):
    def _counters(self, conn, site_ids: list[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {i: [] for i in site_ids}
        if not site_ids:
            return out
        marks = ", ".join("?" * len(site_ids))
        for row in conn.execute(f"SELECT site_id, code, name FROM counters WHERE closed_at IS NULL AND site_id IN ({marks}) "
                                "ORDER BY site_id, code", tuple(site_ids)):
            out[row["site_id"]].append({"code": row["code"], "name": row["name"]})
        return out

    def sites(self, unit_code: str | None = None, *, include_closed: bool = False) -> list[dict]:
        conn = self._conn()
        where, params = [], []
        if unit_code is not None:
            where.append("unit_code = ?")
            params.append(unit_code)
        if not include_closed:
            where.append("closed_at IS NULL")
        sql = f"SELECT {_COLS} FROM sites" + (" WHERE " + " AND ".join(where) if where else "")
        rows = conn.execute(sql + " ORDER BY unit_code, unit_valid_from, position", tuple(params)).fetchall()
        counters = self._counters(conn, [r["id"] for r in rows])
        return [_site(r, counters[r["id"]]) for r in rows]

    def site(self, site_id: int) -> dict | None:
        conn = self._conn()
        row = conn.execute(f"SELECT {_COLS} FROM sites WHERE id = ?", (int(site_id),)).fetchone()
        return _site(row, self._counters(conn, [row["id"]])[row["id"]]) if row else None

    def first_site(self, unit_code: str, day: str) -> dict | None:
        conn = self._conn()
        row = conn.execute(
            f"SELECT {', '.join('s.' + c.strip() for c in _COLS.split(','))} FROM sites s JOIN unit_versions v "
            "ON v.code = s.unit_code AND v.valid_from = s.unit_valid_from "
            "WHERE s.unit_code = ? AND s.closed_at IS NULL AND v.valid_from <= ? ORDER BY v.valid_from DESC, s.position LIMIT 1",
            (unit_code, day)).fetchone()
        if row is None:
            row = conn.execute(f"SELECT {_COLS} FROM sites WHERE unit_code = ? ORDER BY unit_valid_from, position LIMIT 1",
                               (unit_code,)).fetchone()
        return _site(row, self._counters(conn, [row["id"]])[row["id"]]) if row else None

    def add_site(self, unit_code: str, name: str, now: datetime, *, address: str | None = None, hotline: str | None = None,
                 public_base_url: str | None = None, office_hours: dict | None = None) -> dict:
        day = now.date().isoformat()

        def tx(c) -> int:
            version = c.execute(f"SELECT valid_from FROM unit_versions WHERE code = ? AND {open_version_sql()} "
                                "ORDER BY valid_from DESC LIMIT 1", (unit_code, day, day)).fetchone()
            if version is None:
                raise ValueError(f"no version of unit {unit_code} is in force on {day}")
            position = c.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM sites WHERE unit_code = ? AND unit_valid_from = ?",
                                 (unit_code, version["valid_from"])).fetchone()[0]
            return c.execute(
                "INSERT INTO sites (unit_code, unit_valid_from, position, name, address, office_hours, hotline, public_base_url, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (unit_code, version["valid_from"], position, name, address,
                 json.dumps(office_hours, sort_keys=True) if office_hours else None, hotline, public_base_url,
                 format_rfc3339(now))).fetchone()[0]

        return self.site(self._write(tx))

    def update_site(self, site_id: int, **fields) -> bool:
        unknown = set(fields) - set(_EDITABLE)
        if unknown:
            raise ValueError(f"unknown site fields: {', '.join(sorted(unknown))}")
        if not fields:
            return self.site(site_id) is not None
        values = [json.dumps(v, sort_keys=True) if k == "office_hours" and v is not None else v for k, v in fields.items()]
        sets = ", ".join(f"{k} = ?" for k in fields)
        return self._write(lambda c: c.execute(f"UPDATE sites SET {sets} WHERE id = ?", (*values, int(site_id))).rowcount) == 1

    def add_counter(self, site_id: int, code: str, name: str) -> None:
        def tx(c) -> None:
            if c.execute("SELECT 1 FROM sites WHERE id = ?", (int(site_id),)).fetchone() is None:
                raise ValueError(f"no site {site_id}")
            c.execute("INSERT INTO counters (site_id, code, name) VALUES (?, ?, ?) ON CONFLICT (site_id, code) "
                      "DO UPDATE SET name = excluded.name, closed_at = NULL", (int(site_id), code, name))
        self._write(tx)

    def close_site(self, site_id: int, now: datetime) -> dict:
        stamp = format_rfc3339(now)

        def tx(c) -> dict:
            site = c.execute(f"SELECT {_COLS} FROM sites WHERE id = ?", (int(site_id),)).fetchone()
            if site is None:
                raise StorageRefused("not_found", f"no site {site_id}")
            if site["closed_at"] is not None:
                return dict(site)
            kiosks = c.execute("SELECT COUNT(*) FROM devices WHERE site_id = ? AND revoked_at IS NULL", (int(site_id),)).fetchone()[0]
            if kiosks:
                raise StorageRefused("site_has_kiosks", f"site {site_id} still has {kiosks} enrolled kiosk(s): revoke or re-enrol "
                                     "them at another site first")
            others = c.execute("SELECT COUNT(*) FROM sites WHERE unit_code = ? AND unit_valid_from = ? AND closed_at IS NULL "
                               "AND id <> ?", (site["unit_code"], site["unit_valid_from"], int(site_id))).fetchone()[0]
            if not others:
                raise StorageRefused("last_site", f"site {site_id} is the last open site of its unit: a unit keeps one point")
            c.execute("UPDATE sites SET closed_at = ? WHERE id = ?", (stamp, int(site_id)))
            c.execute("UPDATE counters SET closed_at = ? WHERE site_id = ? AND closed_at IS NULL", (stamp, int(site_id)))
            # Unused enrolment codes for it would enrol a kiosk to a closed point: they end now.
            c.execute("UPDATE enroll_codes SET expires_at = ? WHERE site_id = ? AND used_at IS NULL", (stamp, int(site_id)))
            return dict(site, closed_at=stamp)
        return self._write(tx)

    def close_counter(self, site_id: int, code: str, now: datetime) -> None:
        stamp = format_rfc3339(now)

        def tx(c) -> None:
            row = c.execute("SELECT closed_at FROM counters WHERE site_id = ? AND code = ?", (int(site_id), code)).fetchone()
            if row is None:
                raise StorageRefused("not_found", f"site {site_id} has no counter {code!r}")
            if row["closed_at"] is not None:
                return
            kiosks = c.execute("SELECT COUNT(*) FROM devices WHERE site_id = ? AND counter = ? AND revoked_at IS NULL",
                               (int(site_id), code)).fetchone()[0]
            if kiosks:
                raise StorageRefused("counter_has_kiosks", f"counter {code!r} still has {kiosks} enrolled kiosk(s): revoke or "
                                     "re-enrol them first")
            c.execute("UPDATE counters SET closed_at = ? WHERE site_id = ? AND code = ?", (stamp, int(site_id), code))
            c.execute("UPDATE enroll_codes SET expires_at = ? WHERE site_id = ? AND counter = ? AND used_at IS NULL",
                      (stamp, int(site_id), code))
        self._write(tx)
