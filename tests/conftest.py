"""Shared fixtures: real SQLite files in tmp_path, a real uvicorn on 127.0.0.1, real Qt offscreen."""

from __future__ import annotations

import os

# pytest-qt aborts without a platform; tests never need a real display (screenshots use Xvfb).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from tests.support import LiveServer, free_port, make_enroll_code  # noqa: E402,F401


@pytest.fixture
def server(tmp_path):
    """A real ``hailong-server serve`` process on 127.0.0.1 with a fresh SQLite file."""
    live = LiveServer(tmp_path / "server.sqlite3", free_port())
    live.start()
    yield live
    live.stop()
