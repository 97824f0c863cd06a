"""Storage back ends, chosen by one setting (the database URL or path)."""

from __future__ import annotations

from pathlib import Path

from sync_server.storage.base import (Device, EnrollRefused, ImportReport, PreparedResponse, Session, Storage,
                                      StorageRefused, UnitRelease, User)

__all__ = ["Device", "EnrollRefused", "ImportReport", "PreparedResponse", "Session", "Storage", "StorageRefused",
           "UnitRelease", "User", "open_storage"]


def open_storage(db: str | Path) -> Storage:
    """Open (and migrate) the database named by ``db``: a SQLite path, ``sqlite:///PATH`` or ``postgresql://…``."""
    text = str(db)
    if text.startswith(("postgres://", "postgresql://")):
        from sync_server.storage.postgres import PostgresStorage

        pg = PostgresStorage(text)
        pg.migrate()
        return pg
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    from sync_server.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(Path(text))
    storage.migrate()
    return storage
