"""Helpers for the admin-page tests: an app on a fresh SQLite file, accounts of every role, signed-in clients."""

from __future__ import annotations

from tests.support import server_db_location

import re
from datetime import datetime, timezone
from pathlib import Path

from fastapi.testclient import TestClient

from sync_server import accounts
from sync_server import settings as server_settings
from sync_server.app import create_app
from sync_server.storage import open_storage

PASSWORD = "correct horse battery"
# Scope fixtures: district 213 (Thành phố Bắc Giang) holds commune 7201; district 215 (Yên Thế) holds 7246.
HOME_DISTRICT, HOME_COMMUNE = "213", "7201"
OTHER_DISTRICT, OTHER_COMMUNE = "215", "7246"
ROLE_UNITS = {"province_admin": None, "province_analyst": None, "district_viewer": HOME_DISTRICT, "commune_viewer": HOME_COMMUNE}
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def make_app(tmp_path: Path, **overrides):
    db = server_db_location(tmp_path)
    storage = open_storage(db)
    app = create_app(server_settings.load(db=str(db), **overrides), storage)
    return app, storage


def add_users(storage) -> dict[str, int]:
    """One account per role (username = role); the password is hashed once and reused (Argon2 is slow on purpose)."""
    encoded = accounts.hash_secret(PASSWORD)
    now = datetime.now(timezone.utc)
    return {role: storage.add_user(role.replace("_", "-"), encoded, role, unit, now) for role, unit in ROLE_UNITS.items()}


def login(app, username: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    """A client signed in as ``username`` and the session's CSRF token."""
    client = TestClient(app, raise_server_exceptions=True, follow_redirects=False)
    form = client.get("/login")
    token = CSRF_RE.search(form.text).group(1)
    resp = client.post("/login", data={"username": username, "password": password, "csrf": token, "next": "/"})
    assert resp.status_code == 303, resp.text[:500]
    page = client.get("/")
    assert page.status_code == 200, page.text[:300]
    return client, CSRF_RE.search(page.text).group(1)
