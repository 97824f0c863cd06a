"""Portable SQL: enrolment codes, devices, and their diagnostics and log requests (issue 16)."""

from __future__ import annotations

import json
from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import FleetArea
from sync_server.storage.types import Device, EnrollRefused, User

_DEVICE_COLS = ("id, unit_code, name, enrolled_at, revoked_at, last_seen_at, last_upload_at, pending, kept_aside, "
                "last_sync_at, app_version, clock_offset_s, last_error, site_id, counter, kind")
_DIAG_COLS = ("device_id, reported_at, body, log_request_id, log_request_lines, log_requested_at, log_requested_by, "
              "log_received_at, log_line_count, log_truncated, log_asked_at, log_asked_by")
_AUDIT = "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)"
# One row per kiosk, made by whichever comes first: a heartbeat with diagnostics or a log request.
_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's variable limit
_ENSURE_DIAG = "INSERT INTO device_diagnostics (device_id) VALUES (?) ON CONFLICT (device_id) DO NOTHING"


def _detail(value: dict) -> str:
    # As PeopleArea.audit writes it, so the audit page reads both alike.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class SQLFleet(FleetArea):
    def create_enroll_code(self, unit_code: str, code_hash: str, expires_at: datetime, label: str | None = None,
                           created_by: str | None = None, site_id: int | None = None, counter: str | None = None,
                           kind: str = "kiosk") -> None:
        now = format_rfc3339(datetime.now().astimezone())
        self._write(lambda c: c.execute(
            "INSERT INTO enroll_codes (code_hash, unit_code, created_at, expires_at, label, created_by, site_id, counter, kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code_hash, unit_code, now, format_rfc3339(expires_at), label, created_by, site_id, counter, kind)))

    def redeem_enroll_code(self, code_hash: str, now: datetime, device_id: str, token_hash: str, name: str | None) -> Device:
        def tx(c) -> Device:
            row = c.execute("SELECT unit_code, expires_at, used_at, label, site_id, counter, kind FROM enroll_codes WHERE code_hash = ?",
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
            site_id, kind = row["site_id"], row["kind"]
            if kind == "relay":  # a server forwarding for the unit's subtree stands at no site
                site_id = None
            elif site_id is None:  # a code made before sites: the unit's first site in force today
                site = c.execute("SELECT s.id FROM sites s WHERE s.unit_code = ? AND s.closed_at IS NULL AND s.unit_valid_from <= ? "
                                 "ORDER BY s.unit_valid_from DESC, s.position LIMIT 1", (row["unit_code"], stamp[:10])).fetchone()
                site_id = site[0] if site else None
            c.execute("INSERT INTO devices (id, unit_code, name, token_hash, enrolled_at, site_id, counter, kind) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (device_id, row["unit_code"], label, token_hash, stamp, site_id, row["counter"], kind))
            return Device(device_id, row["unit_code"], label, False, site_id, row["counter"], kind)
        return self._write(tx)

    def enroll_codes(self, unit_codes: set[str] | None = None) -> list[dict]:
        rows = self._conn().execute("SELECT unit_code, label, created_at, expires_at, used_at, device_id, created_by, site_id, counter "
                                    "FROM enroll_codes ORDER BY created_at DESC").fetchall()
        return [dict(r) for r in rows if unit_codes is None or r["unit_code"] in unit_codes]

    def device_by_token(self, token_hash: str) -> Device | None:
        row = self._conn().execute("SELECT id, unit_code, name, revoked_at, site_id, counter, kind FROM devices WHERE token_hash = ?",
                                   (token_hash,)).fetchone()
        return Device(row["id"], row["unit_code"], row["name"], row["revoked_at"] is not None, row["site_id"], row["counter"],
                      row["kind"]) if row else None

    def device(self, device_id: str) -> dict | None:
        row = self._conn().execute(f"SELECT {_DEVICE_COLS} FROM devices WHERE id = ?", (device_id,)).fetchone()
        return dict(row) if row else None

    def revoke_device(self, device_id: str, now: datetime) -> bool:
        return self._write(lambda c: c.execute("UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                               (format_rfc3339(now), device_id)).rowcount) == 1

    def record_heartbeat(self, device_id: str, now: datetime, info: dict) -> None:
        stamp = format_rfc3339(now)
        diagnostics = info.get("diagnostics")

        def tx(c) -> None:
            c.execute(
                "UPDATE devices SET last_seen_at = ?, pending = ?, kept_aside = ?, last_sync_at = ?, app_version = ?, "
                "clock_offset_s = ?, last_error = ? WHERE id = ?",
                (stamp, info["pending"], info.get("kept_aside"), info.get("last_sync_at"), info["app_version"],
                 info.get("clock_offset_s"), info.get("last_error"), device_id))
            if diagnostics is not None:
                # ASCII JSON: a stray surrogate a client sent stays an escape, storable by both back ends.
                c.execute(_ENSURE_DIAG, (device_id,))
                c.execute("UPDATE device_diagnostics SET reported_at = ?, body = ? WHERE device_id = ?",
                          (stamp, json.dumps(diagnostics, sort_keys=True), device_id))
        self._write(tx)

    def devices(self, unit_codes: set[str] | None = None, kind: str | None = "kiosk") -> list[dict]:
        rows = self._conn().execute(f"SELECT {_DEVICE_COLS} FROM devices ORDER BY enrolled_at").fetchall()
        return [dict(r) for r in rows if (unit_codes is None or r["unit_code"] in unit_codes) and (kind is None or r["kind"] == kind)]

    def devices_by_id(self, device_ids: list[str]) -> dict[str, dict]:
        ids = sorted({i for i in device_ids if isinstance(i, str)})
        out: dict[str, dict] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows = self._conn().execute(f"SELECT {_DEVICE_COLS} FROM devices WHERE id IN ({', '.join('?' * len(chunk))})",
                                        tuple(chunk)).fetchall()
            out.update((r["id"], dict(r)) for r in rows)
        return out

    # --- diagnostics and log requests (issue 16) ------------------------------------------------------

    def device_diagnostics(self, device_ids: list[str] | None = None) -> dict[str, dict]:
        rows = self._conn().execute(f"SELECT {_DIAG_COLS} FROM device_diagnostics").fetchall()
        wanted = None if device_ids is None else set(device_ids)
        out = {}
        for row in rows:
            if wanted is not None and row["device_id"] not in wanted:
                continue
            item = dict(row)
            body = item.pop("body")
            item["diagnostics"] = json.loads(body) if body else None
            item["log_truncated"] = bool(item["log_truncated"])
            out[item.pop("device_id")] = item
        return out

    def request_device_log(self, device_id: str, request_id: str, lines: int, now: datetime, user: User | None,
                           ip: str | None = None) -> None:
        stamp = format_rfc3339(now)
        by = user.username if user else None

        def tx(c) -> None:
            c.execute(_ENSURE_DIAG, (device_id,))
            c.execute("UPDATE device_diagnostics SET log_request_id = ?, log_request_lines = ?, log_requested_at = ?, "
                      "log_requested_by = ? WHERE device_id = ?", (request_id, lines, stamp, by, device_id))
            c.execute(_AUDIT, (stamp, user.id if user else None, by, "device.log_request", device_id,
                               _detail({"request": request_id, "lines": lines}), ip))
        self._write(tx)

    def device_log_request(self, device_id: str) -> dict | None:
        row = self._conn().execute("SELECT log_request_id, log_request_lines, log_requested_at, log_requested_by "
                                   "FROM device_diagnostics WHERE device_id = ? AND log_request_id IS NOT NULL",
                                   (device_id,)).fetchone()
        if row is None:
            return None
        return {"id": row["log_request_id"], "lines": row["log_request_lines"], "requested_at": row["log_requested_at"],
                "requested_by": row["log_requested_by"]}

    def store_device_log(self, device_id: str, request_id: str, text: str, line_count: int, truncated: bool,
                         now: datetime) -> bool:
        stamp = format_rfc3339(now)

        def tx(c) -> bool:
            # The open request's id in the WHERE: two answers racing for one request store one of them.
            changed = c.execute(
                "UPDATE device_diagnostics SET log_text = ?, log_line_count = ?, log_truncated = ?, log_received_at = ?, "
                "log_asked_at = log_requested_at, log_asked_by = log_requested_by, log_request_id = NULL, "
                "log_request_lines = NULL, log_requested_at = NULL, log_requested_by = NULL "
                "WHERE device_id = ? AND log_request_id = ?",
                (text, line_count, 1 if truncated else 0, stamp, device_id, request_id)).rowcount
            if changed != 1:
                return False
            c.execute(_AUDIT, (stamp, None, None, "device.log_upload", device_id,
                               _detail({"request": request_id, "lines": line_count, "truncated": bool(truncated)}), None))
            return True
        return self._write(tx)

    def device_log(self, device_id: str) -> dict | None:
        row = self._conn().execute("SELECT log_text, log_received_at, log_line_count, log_truncated, log_asked_at, log_asked_by "
                                   "FROM device_diagnostics WHERE device_id = ? AND log_received_at IS NOT NULL",
                                   (device_id,)).fetchone()
        if row is None:
            return None
        return {"text": row["log_text"] or "", "received_at": row["log_received_at"], "line_count": row["log_line_count"],
                "truncated": bool(row["log_truncated"]), "asked_at": row["log_asked_at"], "asked_by": row["log_asked_by"]}
