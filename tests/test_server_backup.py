"""Backup → wipe → restore gives the same answers, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sync_server.storage import open_storage
from tests.records import enroll_http, make_record, upload
from tests.support import is_url, server_cli


def _snapshot(db) -> tuple:
    storage = open_storage(db)
    try:
        per_unit = storage.answers_per_unit()
        conn = storage._conn()
        rows = [tuple(r) for r in conn.execute(
            "SELECT id, content_hash, unit_code, answers, flags, created_ms FROM responses ORDER BY id").fetchall()]
        units = len(storage.unit_versions())
        return per_unit, rows, units
    finally:
        storage.close()


def _wipe(db) -> None:
    if is_url(db):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)


def test_backup_wipe_restore_is_identical(server, tmp_path):
    for unit in ("7201", "7246"):
        device = enroll_http(server, unit)
        resp = upload(server, device["token"], [make_record(i + 1, unit, {"overall": 1 + i % 5}) for i in range(40)])
        assert resp.status_code == 200
    before = _snapshot(server.db)
    assert before[0] == {"7201": 40, "7246": 40}

    target = tmp_path / "backup.bin"
    assert "backup written" in server_cli(server.db, "backup", "--out", str(target)).stdout   # while serving
    server.stop()
    _wipe(server.db)
    server_cli(server.db, "restore", str(target))
    assert _snapshot(server.db) == before
    assert json.loads(server_cli(server.db, "stats", "--json").stdout) == {"7201": 40, "7246": 40}
