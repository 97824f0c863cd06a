"""Portable SQL: accounts, sessions, login throttling, audit log."""

from __future__ import annotations

import json

from datetime import datetime, timedelta, timezone

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import PeopleArea
from sync_server.storage.types import Session, StorageRefused, User

_USER_FIELDS = ("password_hash", "role", "unit_code", "active")


def _user(row) -> User:
    return User(row["id"], row["username"], row["role"], row["unit_code"], bool(row["active"]))


class SQLPeople(PeopleArea):
    def add_user(self, username: str, password_hash: str, role: str, unit_code: str | None, now: datetime) -> int:
        def tx(c) -> int:
            if c.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise StorageRefused("username_taken", f"the username {username!r} is taken")
            return c.execute("INSERT INTO users (username, password_hash, role, unit_code, active, created_at) "
                             "VALUES (?, ?, ?, ?, 1, ?) RETURNING id",
                             (username, password_hash, role, unit_code, format_rfc3339(now))).fetchone()[0]
        return self._write(tx)

    def user(self, user_id: int) -> User | None:
        row = self._conn().execute("SELECT id, username, role, unit_code, active FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def user_login(self, username: str) -> tuple[User, str] | None:
        row = self._conn().execute("SELECT id, username, role, unit_code, active, password_hash FROM users WHERE username = ?",
                                   (username,)).fetchone()
        return (_user(row), row["password_hash"]) if row else None

    def users(self) -> list[dict]:
        rows = self._conn().execute("SELECT id, username, role, unit_code, active, created_at, last_login_at FROM users "
                                    "ORDER BY username").fetchall()
        return [{**dict(r), "active": bool(r["active"])} for r in rows]

    def update_user(self, user_id: int, **fields) -> bool:
        unknown = set(fields) - set(_USER_FIELDS) - {"last_login_at"}
        if unknown:
            raise TypeError(f"unknown user field(s): {', '.join(sorted(unknown))}")
        if "active" in fields:
            fields["active"] = int(bool(fields["active"]))
        names = list(fields)

        def tx(c) -> bool:
            if names:
                sets = ", ".join(f"{n} = ?" for n in names)
                if c.execute(f"UPDATE users SET {sets} WHERE id = ?", [fields[n] for n in names] + [user_id]).rowcount != 1:
                    return False
            # Any change of password, role, scope or state ends the user's sessions; a login stamp does not.
            if set(names) - {"last_login_at"}:
                c.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            return True
        return self._write(tx)

    def create_session(self, id_hash: str, user_id: int, csrf: str, now_ms: int, expires_ms: int, ip: str | None) -> None:
        def tx(c) -> None:
            c.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now_ms,))
            c.execute("INSERT INTO sessions (id_hash, user_id, csrf, created_ms, expires_ms, ip) VALUES (?, ?, ?, ?, ?, ?)",
                      (id_hash, user_id, csrf, now_ms, expires_ms, ip))
        self._write(tx)

    def session(self, id_hash: str, now_ms: int) -> Session | None:
        row = self._conn().execute(
            "SELECT u.id, u.username, u.role, u.unit_code, u.active, s.csrf, s.expires_ms FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires_ms > ? AND u.active = 1",
            (id_hash, now_ms)).fetchone()
        return Session(_user(row), row["csrf"], row["expires_ms"]) if row else None

    def end_session(self, id_hash: str) -> None:
        self._write(lambda c: c.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,)))

    def note_login_failure(self, keys: list[str], now_ms: int, keep_ms: int) -> None:
        def tx(c) -> None:
            c.execute("DELETE FROM login_failures WHERE at_ms < ?", (now_ms - keep_ms,))
            c.executemany("INSERT INTO login_failures (key, at_ms) VALUES (?, ?)", [(k, now_ms) for k in keys])
        self._write(tx)

    def login_failures(self, key: str, since_ms: int) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at_ms >= ?", (key, since_ms)).fetchone()[0]

    def clear_login_failures(self, key: str) -> None:
        self._write(lambda c: c.execute("DELETE FROM login_failures WHERE key = ?", (key,)))

    def audit(self, now: datetime, user: User | None, action: str, target: str | None = None,
              detail: dict | None = None, ip: str | None = None) -> None:
        self._write(lambda c: c.execute(
            "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (format_rfc3339(now), user.id if user else None, user.username if user else None, action, target,
             json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None, ip)))

    def audit_log(self, limit: int = 200, offset: int = 0, *, action: str | None = None, since: datetime | None = None,
                  before: datetime | None = None) -> list[dict]:
        where, params = [], []
        if action is not None:
            where.append("action = ?")
            params.append(action)
        # Stamps keep the offset they were written with (UTC from most writers, the province's from some), so
        # their text orders instants only to within a day: the SQL keeps a window widened by 15 h each side
        # (offsets span -12:00..+14:00) and the exact instants are compared here.
        if since is not None:
            where.append("at >= ?")
            params.append((since.astimezone(timezone.utc) - _MARGIN).strftime("%Y-%m-%dT%H:%M:%S"))
        if before is not None:
            where.append("at < ?")
            params.append((before.astimezone(timezone.utc) + _MARGIN).strftime("%Y-%m-%dT%H:%M:%S"))
        sql = ("SELECT id, at, user_id, username, action, target, detail, ip FROM audit_log"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ? OFFSET ?")
        conn = self._conn()
        if since is None and before is None:
            rows = conn.execute(sql, (*params, limit, offset)).fetchall()
        else:
            rows, skipped, start = [], 0, 0
            while len(rows) < limit:
                chunk = conn.execute(sql, (*params, 500, start)).fetchall()
                start += len(chunk)
                for r in chunk:
                    if not _within(r["at"], since, before):
                        continue
                    if skipped < offset:
                        skipped += 1
                    elif len(rows) < limit:
                        rows.append(r)
                if len(chunk) < 500:
                    break
        return [{**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]

    def audit_actions(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT DISTINCT action FROM audit_log ORDER BY action").fetchall()]

    def usernames(self, user_ids: list[int]) -> dict[int, str]:
        ids = sorted({int(i) for i in user_ids if isinstance(i, int) and not isinstance(i, bool)})
        if not ids:
            return {}
        rows = self._conn().execute(f"SELECT id, username FROM users WHERE id IN ({', '.join('?' * len(ids))})", tuple(ids)).fetchall()
        return {r["id"]: r["username"] for r in rows}


_MARGIN = timedelta(hours=15)


def _within(stamp: str, since: datetime | None, before: datetime | None) -> bool:
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (since is None or moment >= since) and (before is None or moment < before)
