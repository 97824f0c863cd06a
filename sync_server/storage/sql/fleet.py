"""Portable SQL: enrolment codes and devices."""

from __future__ import annotations


from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import FleetArea
from sync_server.storage.types import Device, EnrollRefused

_DEVICE_COLS = ("id, unit_code, name, enrolled_at, revoked_at, last_seen_at, last_upload_at, pending, kept_aside, "
                "last_sync_at, app_version, clock_offset_s, last_error, site_id, counter")


class SQLFleet(FleetArea):
    def create_enroll_code(self, unit_code: str, code_hash: str, expires_at: datetime, label: str | None = None,
                           created_by: str | None = None, site_id: int | None = None, counter: str | None = None) -> None:
        now = format_rfc3339(datetime.now().astimezone())
        self._write(lambda c: c.execute(
            "INSERT INTO enroll_codes (code_hash, unit_code, created_at, expires_at, label, created_by, site_id, counter) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (code_hash, unit_code, now, format_rfc3339(expires_at), label, created_by, site_id, counter)))

    def redeem_enroll_code(self, code_hash: str, now: datetime, device_id: str, token_hash: str, name: str | None) -> Device:
        def tx(c) -> Device:
            row = c.execute("SELECT unit_code, expires_at, used_at, label, site_id, counter FROM enroll_codes WHERE code_hash = ?",
                            (code_hash,)).fetchone()
            if row is None:
                raise EnrollRefused("unknown enrolment code")
            if row["used_at"] is not None:
                raise EnrollRefused("this enrolment code was already used")
            if datetime.fromisoformat(row["expires_at"]) <= now:
                raise EnrollRefused("this enrolment code has expired")
            stamp = format_rfc3339(now)
            label = name or row["label"]
            c.execute("UPDATE enroll_codes SET used_at = ?, device_id = ? WHERE code_hash = ?", (stamp, device_id, code_hash))
            site_id = row["site_id"]
            if site_id is None:  # a code made before sites: the unit's first site in force today
                site = c.execute("SELECT s.id FROM sites s WHERE s.unit_code = ? AND s.closed_at IS NULL AND s.unit_valid_from <= ? "
                                 "ORDER BY s.unit_valid_from DESC, s.position LIMIT 1", (row["unit_code"], stamp[:10])).fetchone()
                site_id = site[0] if site else None
            c.execute("INSERT INTO devices (id, unit_code, name, token_hash, enrolled_at, site_id, counter) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (device_id, row["unit_code"], label, token_hash, stamp, site_id, row["counter"]))
            return Device(device_id, row["unit_code"], label, False, site_id, row["counter"])
        return self._write(tx)

    def enroll_codes(self, unit_codes: set[str] | None = None) -> list[dict]:
        rows = self._conn().execute("SELECT unit_code, label, created_at, expires_at, used_at, device_id, created_by, site_id, counter "
                                    "FROM enroll_codes ORDER BY created_at DESC").fetchall()
        return [dict(r) for r in rows if unit_codes is None or r["unit_code"] in unit_codes]

    def device_by_token(self, token_hash: str) -> Device | None:
        row = self._conn().execute("SELECT id, unit_code, name, revoked_at, site_id, counter FROM devices WHERE token_hash = ?",
                                   (token_hash,)).fetchone()
        return Device(row["id"], row["unit_code"], row["name"], row["revoked_at"] is not None, row["site_id"], row["counter"]) \
            if row else None

    def device(self, device_id: str) -> dict | None:
        row = self._conn().execute(f"SELECT {_DEVICE_COLS} FROM devices WHERE id = ?", (device_id,)).fetchone()
        return dict(row) if row else None

    def revoke_device(self, device_id: str, now: datetime) -> bool:
        return self._write(lambda c: c.execute("UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                               (format_rfc3339(now), device_id)).rowcount) == 1

    def record_heartbeat(self, device_id: str, now: datetime, info: dict) -> None:
        self._write(lambda c: c.execute(
            "UPDATE devices SET last_seen_at = ?, pending = ?, kept_aside = ?, last_sync_at = ?, app_version = ?, "
            "clock_offset_s = ?, last_error = ? WHERE id = ?",
            (format_rfc3339(now), info["pending"], info.get("kept_aside"), info.get("last_sync_at"), info["app_version"],
             info.get("clock_offset_s"), info.get("last_error"), device_id)))

    def devices(self, unit_codes: set[str] | None = None) -> list[dict]:
        rows = self._conn().execute(f"SELECT {_DEVICE_COLS} FROM devices ORDER BY enrolled_at").fetchall()
        return [dict(r) for r in rows if unit_codes is None or r["unit_code"] in unit_codes]
