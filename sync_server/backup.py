"""Backup and restore for both back ends.

SQLite: the online backup API copies a consistent snapshot while the server keeps running (WAL
readers never block); restore copies a backup back with the same API (stop the server first).
PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean``, the tools made for it.
"""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
from pathlib import Path


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


def _is_pg(db: str) -> bool:
    return db.startswith(("postgres://", "postgresql://"))


def _pg_tool(name: str) -> str:
    # Prefer the newest installed server's own binaries: pg_dump must not be older than the server.
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    tool = found[-1] if found else shutil.which(name)
    if not tool:
        raise BackupError(f"{name} is not installed (Debian: postgresql-client)")
    return tool


def _sqlite_path(db: str) -> Path:
    return Path(db[len("sqlite:///"):] if db.startswith("sqlite:///") else db)


def backup(db: str, out: Path) -> None:
    """Write a consistent copy of ``db`` to ``out``."""
    out = Path(out)
    if _is_pg(db):
        proc = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out), db],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BackupError(f"pg_dump failed: {proc.stderr.strip()}")
        return
    source = _sqlite_path(db)
    if not source.exists():
        raise BackupError(f"{source}: no such database")
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(tmp))
    try:
        src.backup(dst)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the copy failed its integrity check")
    finally:
        dst.close()
        src.close()
    tmp.replace(out)


def restore(db: str, backup_file: Path) -> None:
    """Replace ``db``'s content with ``backup_file`` (made by :func:`backup`)."""
    backup_file = Path(backup_file)
    if not backup_file.exists():
        raise BackupError(f"{backup_file}: no such backup")
    if _is_pg(db):
        proc = subprocess.run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                               "--dbname", db, str(backup_file)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed: {proc.stderr.strip()}")
        return
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{backup_file}: the backup failed its integrity check")
        target = sqlite3.connect(str(_sqlite_path(db)))
        try:
            src.backup(target)
        finally:
            target.close()
    finally:
        src.close()
