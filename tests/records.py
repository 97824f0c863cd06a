"""Helpers for the protocol and sync tests: build protocol records, talk to a live server, read its file."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

from tests.support import is_url

from hailong_core.ids import uuid7
from hailong_core.timeutil import format_rfc3339, now_local

QREF = {"id": "bg-friendly-gov", "version": 1}
UPLOAD = "/api/v1/kiosk/responses"


def make_record(seq: int, unit_code: str = "7201", answers: dict | None = None, *,
                created: datetime | None = None, **extra) -> dict:
    """One valid protocol record (the default questionnaire), overridable field by field."""
    created = created or now_local()
    record = {
        "id": uuid7(), "seq": seq, "unit_code": unit_code, "officer_id": None, "questionnaire": dict(QREF),
        "channel": "kiosk", "created_at": format_rfc3339(created),
        "answers": {"overall": 5} if answers is None else answers, "flags": [],
    }
    record.update(extra)
    return record


def device_time(offset: timedelta = timedelta(0)) -> str:
    return format_rfc3339(now_local() + offset)


def enroll_http(server, unit: str = "7201", name: str | None = None) -> dict:
    """Enrol a device over plain HTTP; ``{device_id, token, unit_code, server_time}``."""
    resp = requests.post(server.url + "/api/v1/enroll", json={"code": server.enroll_code(unit), "name": name}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(server, token: str, records: list, *, gz: bool = False, dt: str | None = None, timeout: float = 30) -> requests.Response:
    body = {"responses": records, "device_time": dt or device_time()}
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {**bearer(token), "Content-Type": "application/json"}
    if gz:
        raw = gzip.compress(raw)
        headers["Content-Encoding"] = "gzip"
    return requests.post(server.url + UPLOAD, data=raw, headers=headers, timeout=timeout)


def server_db(server) -> sqlite3.Connection:
    """A reading connection on the live server's database (SQLite file or PostgreSQL URL).

    Both answer ``execute(sql with ?)`` with rows readable by index and by name.
    """
    if is_url(server.db):
        return _PGReader(server.db)
    conn = sqlite3.connect(str(server.db), timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


class _PGReader:
    """A PostgreSQL connection that reads like the sqlite3 one above (context manager included)."""

    def __init__(self, url: str):
        import psycopg

        from sync_server.storage.postgres import PGConnection

        self._conn = PGConnection(psycopg.connect(url, autocommit=True))

    def execute(self, sql: str, params=()):
        return self._conn.execute(sql, params)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def server_rows(server) -> int:
    with server_db(server) as conn:
        return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def ids_on_server_more_than_once(server) -> list:
    conn = server_db(server)
    try:
        return conn.execute("SELECT id, COUNT(*) FROM responses GROUP BY id HAVING COUNT(*) > 1").fetchall()
    finally:
        conn.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    """Poll ``predicate`` until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def assert_error(resp: requests.Response, status: int, code: str) -> dict:
    """The one error shape with the expected status and code."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body


def read_path(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8", errors="replace")


class Clock:
    """A settable clock (injected where the code takes one): tests move it instead of waiting."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
