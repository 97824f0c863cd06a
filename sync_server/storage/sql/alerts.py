"""Portable SQL: alert channels (Telegram, Zalo OA, webhook) and the alert delivery log (issue 15).

Every read-then-write step here runs in one write transaction (``_write``), which both back ends
serialise across processes, so a delivery is queued once and claimed by one sender however many
server processes and CLI commands run (contract 12); the unique key ``(channel_id, alert_key,
window_no)`` makes a second row impossible even so. Each change to a channel and its audit entry
commit together.
"""

from __future__ import annotations

import json
from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import AlertsArea
from sync_server.storage.types import StorageRefused, User

_AUDIT = "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)"
_CHANNEL_COLUMNS = ("id", "name", "kind", "target", "unit_code", "officer_results", "active", "created_at", "created_by",
                    "updated_at", "removed_at")
_CHANNEL_SELECT = f"SELECT {', '.join(_CHANNEL_COLUMNS)}, secret IS NOT NULL AND secret <> '' AS has_secret FROM alert_channels"
_DELIVERY_COLUMNS = ("id", "channel_id", "alert_key", "window_no", "kind", "unit_code", "payload", "status", "attempts",
                     "next_try_ms", "lease_ms", "last_error", "http_status", "summary_id", "created_ms", "created_at",
                     "sent_at", "updated_at")
# What counts against a channel's hourly limit: the messages it sent or will send (alerts and
# summaries), not those held for a summary, folded into one, or cancelled, and not test messages.
_COUNTED = ("SELECT COUNT(*) FROM alert_deliveries WHERE channel_id = ? AND kind IN ('alert', 'summary') "
            "AND status NOT IN ('held', 'summarised', 'cancelled') AND created_ms > ?")
HOUR_MS = 3_600_000


def _audit(c, now: datetime, user: User | None, action: str, target: str | None, detail: dict, ip: str | None) -> None:
    c.execute(_AUDIT, (format_rfc3339(now), user.id if user else None, user.username if user else None, action, target,
                       json.dumps(detail, ensure_ascii=False, sort_keys=True), ip))


def _channel(row) -> dict:
    out = {name: row[name] for name in _CHANNEL_COLUMNS}
    out["officer_results"] = bool(out["officer_results"])
    out["active"] = bool(out["active"])
    out["has_secret"] = bool(row["has_secret"])
    return out


def _delivery(row) -> dict:
    out = {name: row[name] for name in _DELIVERY_COLUMNS}
    out["payload"] = json.loads(out["payload"])
    return out


class SQLAlerts(AlertsArea):
    # --- channels --------------------------------------------------------------------------------

    def alert_channels(self, include_removed: bool = False) -> list[dict]:
        where = "" if include_removed else " WHERE removed_at IS NULL"
        return [_channel(r) for r in self._conn().execute(f"{_CHANNEL_SELECT}{where} ORDER BY name, id").fetchall()]

    def alert_channel(self, channel_id: int) -> dict | None:
        row = self._conn().execute(f"{_CHANNEL_SELECT} WHERE id = ?", (channel_id,)).fetchone()
        return _channel(row) if row else None

    def alert_channel_secret(self, channel_id: int) -> str | None:
        row = self._conn().execute("SELECT secret FROM alert_channels WHERE id = ?", (channel_id,)).fetchone()
        return row["secret"] if row else None

    def add_alert_channel(self, name: str, kind: str, target: str, secret: str | None, unit_code: str | None,
                          officer_results: bool, now: datetime, user: User | None, ip: str | None = None) -> int:
        stamp = format_rfc3339(now)

        def tx(c) -> int:
            if c.execute("SELECT 1 FROM alert_channels WHERE name = ? AND removed_at IS NULL", (name,)).fetchone():
                raise StorageRefused("name_taken", f"a channel named {name!r} exists")
            cid = c.execute("INSERT INTO alert_channels (name, kind, target, secret, unit_code, officer_results, active, "
                            "created_at, created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING id",
                            (name, kind, target, secret or None, unit_code, bool(officer_results), stamp,
                             user.username if user else None, stamp)).fetchone()[0]
            _audit(c, now, user, "alert_channel.add", str(cid), {"name": name, "kind": kind, "unit": unit_code,
                                                                 "officer_results": bool(officer_results),
                                                                 "secret": bool(secret)}, ip)
            return cid
        return self._write(tx)

    def update_alert_channel(self, channel_id: int, now: datetime, user: User | None, ip: str | None = None,
                             **fields) -> bool:
        allowed = {"secret", "active", "officer_results", "target"}
        assert set(fields) <= allowed, fields
        stamp = format_rfc3339(now)

        def tx(c) -> bool:
            if not fields:
                return c.execute("SELECT 1 FROM alert_channels WHERE id = ? AND removed_at IS NULL",
                                 (channel_id,)).fetchone() is not None
            sets = ", ".join(f"{k} = ?" for k in fields)
            values = [(v or None) if k == "secret" else v for k, v in fields.items()]
            changed = c.execute(f"UPDATE alert_channels SET {sets}, updated_at = ? WHERE id = ? AND removed_at IS NULL",
                                (*values, stamp, channel_id)).rowcount == 1
            if changed:
                # The audit says which fields changed; a secret's value never goes into it.
                detail = {k: (bool(v) if k == "secret" else v) for k, v in fields.items()}
                _audit(c, now, user, "alert_channel.edit", str(channel_id), detail, ip)
            return changed
        return self._write(tx)

    def swap_alert_channel_secret(self, channel_id: int, expected: str | None, secret: str | None, now: datetime,
                                  action: str | None = None, detail: dict | None = None) -> bool:
        stamp = format_rfc3339(now)

        def tx(c) -> bool:
            row = c.execute("SELECT secret FROM alert_channels WHERE id = ? AND removed_at IS NULL", (channel_id,)).fetchone()
            if row is None or row["secret"] != expected:
                return False  # another process (or an admin) changed it first: the caller reads it again
            c.execute("UPDATE alert_channels SET secret = ?, updated_at = ? WHERE id = ?", (secret or None, stamp, channel_id))
            if action:
                _audit(c, now, None, action, str(channel_id), detail or {}, None)
            return True
        return self._write(tx)

    def remove_alert_channel(self, channel_id: int, now: datetime, user: User | None, ip: str | None = None) -> bool:
        stamp = format_rfc3339(now)

        def tx(c) -> bool:
            row = c.execute("SELECT name FROM alert_channels WHERE id = ? AND removed_at IS NULL", (channel_id,)).fetchone()
            if row is None:
                return False
            # The channel stays for its delivery log; its secret goes, and what waited for it is cancelled.
            c.execute("UPDATE alert_channels SET removed_at = ?, updated_at = ?, active = 0, secret = NULL WHERE id = ?",
                      (stamp, stamp, channel_id))
            cancelled = c.execute("UPDATE alert_deliveries SET status = 'cancelled', updated_at = ? WHERE channel_id = ? "
                                  "AND status IN ('pending', 'retry', 'held')", (stamp, channel_id)).rowcount
            _audit(c, now, user, "alert_channel.remove", str(channel_id), {"name": row["name"], "cancelled": cancelled}, ip)
            return True
        return self._write(tx)

    # --- deliveries ------------------------------------------------------------------------------

    def queue_alert_deliveries(self, rows: list[dict], now_ms: int, repeat_after_ms: int, max_per_hour: int) -> dict[str, int]:
        stamp = format_rfc3339(datetime.fromtimestamp(now_ms / 1000).astimezone())

        def tx(c) -> dict[str, int]:
            done = {"queued": 0, "held": 0, "skipped": 0}
            live = {r["id"] for r in c.execute("SELECT id FROM alert_channels WHERE removed_at IS NULL AND active = 1")}
            for row in rows:
                cid = row["channel_id"]
                recent = c.execute("SELECT 1 FROM alert_deliveries WHERE channel_id = ? AND alert_key = ? AND created_ms > ? "
                                   "LIMIT 1", (cid, row["alert_key"], now_ms - repeat_after_ms)).fetchone()
                if cid not in live or recent:
                    done["skipped"] += 1
                    continue
                used = c.execute(_COUNTED, (cid, now_ms - HOUR_MS)).fetchone()[0]
                status = "pending" if used < max_per_hour else "held"
                inserted = c.execute(
                    "INSERT INTO alert_deliveries (channel_id, alert_key, window_no, kind, unit_code, payload, status, attempts, "
                    "next_try_ms, created_ms, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) "
                    "ON CONFLICT (channel_id, alert_key, window_no) DO NOTHING",
                    (cid, row["alert_key"], row["window_no"], row["kind"], row.get("unit_code"),
                     json.dumps(row["payload"], ensure_ascii=False, sort_keys=True), status, now_ms, now_ms, stamp,
                     stamp)).rowcount
                done["queued" if inserted and status == "pending" else "held" if inserted else "skipped"] += 1
            return done
        return self._write(tx)

    def alert_channel_usage(self, channel_id: int, now_ms: int) -> int:
        return self._conn().execute(_COUNTED, (channel_id, now_ms - HOUR_MS)).fetchone()[0]

    def held_alert_deliveries(self, channel_id: int | None = None) -> list[dict]:
        where, args = ("AND channel_id = ? ", (channel_id,)) if channel_id is not None else ("", ())
        rows = self._conn().execute(f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM alert_deliveries WHERE status = 'held' "
                                    f"{where}ORDER BY channel_id, id", args).fetchall()
        return [_delivery(r) for r in rows]

    def queue_alert_summary(self, channel_id: int, held_ids: list[int], payload: dict, now_ms: int,
                            max_per_hour: int) -> int | None:
        stamp = format_rfc3339(datetime.fromtimestamp(now_ms / 1000).astimezone())

        def tx(c) -> int | None:
            if not held_ids or c.execute(_COUNTED, (channel_id, now_ms - HOUR_MS)).fetchone()[0] >= max_per_hour:
                return None
            marks = ",".join("?" * len(held_ids))
            still = c.execute(f"SELECT COUNT(*) FROM alert_deliveries WHERE channel_id = ? AND status = 'held' AND id IN ({marks})",
                              (channel_id, *held_ids)).fetchone()[0]
            if still != len(held_ids):
                return None  # another process summarised them (or the channel went): nothing to do
            sid = c.execute(
                "INSERT INTO alert_deliveries (channel_id, alert_key, window_no, kind, unit_code, payload, status, attempts, "
                "next_try_ms, created_ms, created_at, updated_at) VALUES (?, ?, 0, 'summary', NULL, ?, 'pending', 0, ?, ?, ?, ?) "
                "ON CONFLICT (channel_id, alert_key, window_no) DO NOTHING RETURNING id",
                (channel_id, f"summary:{min(held_ids)}", json.dumps(payload, ensure_ascii=False, sort_keys=True), now_ms,
                 now_ms, stamp, stamp)).fetchone()
            if sid is None:
                return None
            c.execute(f"UPDATE alert_deliveries SET status = 'summarised', summary_id = ?, updated_at = ? WHERE id IN ({marks})",
                      (sid[0], stamp, *held_ids))
            return sid[0]
        return self._write(tx)

    def add_alert_test(self, channel_id: int, alert_key: str, payload: dict, now_ms: int, user: User | None,
                       ip: str | None = None) -> int:
        now = datetime.fromtimestamp(now_ms / 1000).astimezone()
        stamp = format_rfc3339(now)

        def tx(c) -> int:
            did = c.execute(
                "INSERT INTO alert_deliveries (channel_id, alert_key, window_no, kind, unit_code, payload, status, attempts, "
                "next_try_ms, created_ms, created_at, updated_at) VALUES (?, ?, 0, 'test', NULL, ?, 'pending', 0, ?, ?, ?, ?) "
                "RETURNING id",
                (channel_id, alert_key, json.dumps(payload, ensure_ascii=False, sort_keys=True),
                 now_ms, now_ms, stamp, stamp)).fetchone()[0]
            _audit(c, now, user, "alert_channel.test", str(channel_id), {"delivery": did}, ip)
            return did
        return self._write(tx)

    def claim_alert_deliveries(self, now_ms: int, lease_ms: int, limit: int, ids: list[int] | None = None) -> list[dict]:
        stamp = format_rfc3339(datetime.fromtimestamp(now_ms / 1000).astimezone())
        cols = ", ".join(f"d.{c}" for c in _DELIVERY_COLUMNS)
        only, args = "", (now_ms, now_ms)
        if ids is not None:
            if not ids:
                return []
            only, args = f" AND d.id IN ({','.join('?' * len(ids))})", (now_ms, now_ms, *ids)

        def tx(c) -> list[dict]:
            rows = c.execute(
                f"SELECT {cols}, c.kind AS channel_kind, c.name AS channel_name, c.target AS channel_target, "
                "c.secret AS channel_secret, c.active AS channel_active, c.removed_at AS channel_removed_at "
                "FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id "
                "WHERE ((d.status IN ('pending', 'retry') AND d.next_try_ms <= ?) OR (d.status = 'sending' AND d.lease_ms < ?))"
                f"{only} ORDER BY d.id LIMIT ?", (*args, limit)).fetchall()
            out = []
            for r in rows:
                if r["channel_removed_at"] is not None or not r["channel_active"]:
                    c.execute("UPDATE alert_deliveries SET status = 'cancelled', updated_at = ? WHERE id = ?", (stamp, r["id"]))
                    continue
                c.execute("UPDATE alert_deliveries SET status = 'sending', attempts = attempts + 1, lease_ms = ?, updated_at = ? "
                          "WHERE id = ?", (now_ms + lease_ms, stamp, r["id"]))
                item = _delivery(r)
                item["attempts"] += 1
                item["channel"] = {"id": r["channel_id"], "kind": r["channel_kind"], "name": r["channel_name"],
                                   "target": r["channel_target"], "secret": r["channel_secret"]}
                out.append(item)
            return out
        return self._write(tx)

    def finish_alert_delivery(self, delivery_id: int, attempt: int, status: str, now: datetime, *,
                              next_try_ms: int | None = None, error: str | None = None,
                              http_status: int | None = None) -> bool:
        assert status in ("sent", "retry", "failed"), status
        stamp = format_rfc3339(now)
        return self._write(lambda c: c.execute(
            "UPDATE alert_deliveries SET status = ?, next_try_ms = COALESCE(?, next_try_ms), last_error = ?, http_status = ?, "
            "lease_ms = NULL, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, updated_at = ? "
            "WHERE id = ? AND attempts = ? AND status = 'sending'",
            (status, next_try_ms, error, http_status, status, stamp, stamp, delivery_id, attempt)).rowcount == 1)

    def alert_delivery(self, delivery_id: int) -> dict | None:
        row = self._conn().execute(f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM alert_deliveries WHERE id = ?",
                                   (delivery_id,)).fetchone()
        return _delivery(row) if row else None

    def alert_deliveries(self, limit: int = 100, channel_id: int | None = None) -> list[dict]:
        cols = ", ".join(f"d.{c}" for c in _DELIVERY_COLUMNS)
        where, args = (" WHERE d.channel_id = ?", (channel_id, limit)) if channel_id is not None else ("", (limit,))
        rows = self._conn().execute(f"SELECT {cols}, c.name AS channel_name, c.kind AS channel_kind FROM alert_deliveries d "
                                    f"JOIN alert_channels c ON c.id = d.channel_id{where} ORDER BY d.id DESC LIMIT ?",
                                    args).fetchall()
        return [{**_delivery(r), "channel_name": r["channel_name"], "channel_kind": r["channel_kind"]} for r in rows]

    def alert_delivery_counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, COUNT(*) AS n FROM alert_deliveries GROUP BY status").fetchall()
        return {r["status"]: r["n"] for r in rows}

    def purge_alert_deliveries(self, before_ms: int) -> int:
        return self._write(lambda c: c.execute(
            "DELETE FROM alert_deliveries WHERE created_ms < ? AND status IN ('sent', 'failed', 'summarised', 'cancelled')",
            (before_ms,)).rowcount)
