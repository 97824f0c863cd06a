"""Portable SQL: kiosk releases (the wheel is a BLOB in SQLite, BYTEA in PostgreSQL) and the release
staged for each kiosk (issue 16). Each change commits with its audit entry."""

from __future__ import annotations

import json
from datetime import datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import ReleasesArea
from sync_server.storage.types import StorageRefused, User

_COLS = "id, version, filename, sha256, bytes, notes, added_at, added_by"
_AUDIT = "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)"
_TARGET = ("SELECT t.device_id, t.release_id, r.version, r.filename, r.sha256, r.bytes, t.staged_at, t.staged_by, t.outcome, "
           "t.outcome_reason, t.outcome_at, t.reported_at, t.install_seconds FROM release_targets t "
           "JOIN releases r ON r.id = t.release_id")
_CHUNK = 500  # ids per "IN (...)", well under SQLite's variable limit


def _audit(c, now: datetime, user: User | None, action: str, target: str | None, detail: dict, ip: str | None) -> None:
    c.execute(_AUDIT, (format_rfc3339(now), user.id if user else None, user.username if user else None, action, target,
                       json.dumps(detail, ensure_ascii=False, sort_keys=True), ip))


class SQLReleases(ReleasesArea):
    def add_release(self, version: str, filename: str, sha256: str, content: bytes, notes: str | None, now: datetime,
                    user: User | None, ip: str | None = None) -> int:
        def tx(c) -> int:
            if c.execute("SELECT 1 FROM releases WHERE version = ?", (version,)).fetchone():
                raise StorageRefused("version_taken", f"a release of version {version} is already stored")
            rid = c.execute("INSERT INTO releases (version, filename, sha256, bytes, content, notes, added_at, added_by) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                            (version, filename, sha256, len(content), content, notes, format_rfc3339(now),
                             user.username if user else None)).fetchone()[0]
            _audit(c, now, user, "release.add", version, {"id": rid, "filename": filename, "sha256": sha256,
                                                          "bytes": len(content)}, ip)
            return rid
        return self._write(tx)

    def releases(self) -> list[dict]:
        rows = self._conn().execute(
            f"SELECT {', '.join('r.' + c.strip() for c in _COLS.split(','))}, "
            "(SELECT COUNT(*) FROM release_targets t WHERE t.release_id = r.id) AS staged, "
            "(SELECT COUNT(*) FROM release_targets t WHERE t.release_id = r.id AND t.outcome = 'installed') AS installed, "
            "(SELECT COUNT(*) FROM release_targets t WHERE t.release_id = r.id AND t.outcome = 'rolled_back') AS rolled_back, "
            "(SELECT COUNT(*) FROM release_targets t WHERE t.release_id = r.id AND t.outcome IN ('failed', 'refused')) AS failed "
            "FROM releases r ORDER BY r.id DESC").fetchall()
        return [dict(r) for r in rows]

    def release(self, release_id: int) -> dict | None:
        row = self._conn().execute(f"SELECT {_COLS} FROM releases WHERE id = ?", (release_id,)).fetchone()
        return dict(row) if row else None

    def release_content(self, release_id: int) -> bytes | None:
        row = self._conn().execute("SELECT content FROM releases WHERE id = ?", (release_id,)).fetchone()
        return bytes(row[0]) if row else None  # a memoryview on some drivers

    def stage_release(self, release_id: int, device_ids: list[str], now: datetime, user: User | None,
                      ip: str | None = None, target: str | None = None) -> int:
        stamp = format_rfc3339(now)
        ids = sorted(set(device_ids))

        def tx(c) -> int:
            row = c.execute("SELECT version FROM releases WHERE id = ?", (release_id,)).fetchone()
            if row is None:
                raise StorageRefused("unknown_release", f"no release {release_id}")
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                c.execute(f"DELETE FROM release_targets WHERE device_id IN ({marks})", chunk)
                c.executemany("INSERT INTO release_targets (device_id, release_id, staged_at, staged_by) VALUES (?, ?, ?, ?)",
                              [(d, release_id, stamp, user.username if user else None) for d in chunk])
            _audit(c, now, user, "release.stage", row["version"], {"release_id": release_id, "kiosks": len(ids),
                                                                   "target": target or ",".join(ids)[:500]}, ip)
            return len(ids)
        return self._write(tx)

    def unstage_release(self, device_ids: list[str], now: datetime, user: User | None, ip: str | None = None) -> int:
        ids = sorted(set(device_ids))

        def tx(c) -> int:
            done = 0
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                done += c.execute(f"DELETE FROM release_targets WHERE device_id IN ({','.join('?' * len(chunk))})", chunk).rowcount
            _audit(c, now, user, "release.unstage", None, {"kiosks": done, "target": ",".join(ids)[:500]}, ip)
            return done
        return self._write(tx)

    def release_targets(self, device_ids: list[str] | None = None) -> dict[str, dict]:
        if device_ids is None:
            rows = self._conn().execute(_TARGET).fetchall()
        else:
            rows = []
            ids = sorted(set(device_ids))
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                rows += self._conn().execute(f"{_TARGET} WHERE t.device_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return {r["device_id"]: dict(r) for r in rows}

    def note_release_outcome(self, device_id: str, release_id: int, outcome: str, reason: str | None, at: str | None,
                             seconds: float | None, now: datetime) -> bool:
        return self._write(lambda c: c.execute(
            "UPDATE release_targets SET outcome = ?, outcome_reason = ?, outcome_at = ?, reported_at = ?, install_seconds = ? "
            "WHERE device_id = ? AND release_id = ?",
            (outcome, reason, at, format_rfc3339(now), seconds, device_id, release_id)).rowcount) == 1
