"""Shared fixtures: real SQLite files in tmp_path, a real uvicorn on 127.0.0.1, real Qt offscreen."""

from __future__ import annotations

import os

# pytest-qt aborts without a platform; tests never need a real display (screenshots use Xvfb).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Most tests replay the 2023 campaign (Bắc Giang's 220 points): their fresh databases hold that
# tree alone. Tests of today's structure (tests/test_server_structure.py) ask for both trees, the
# default of a real deployment (setting seed_units). Child processes (servers, the CLI) inherit it.
os.environ.setdefault("HAILONG_SERVER_SEED_UNITS", "2023")
# The tests run on the province's clock: a machine on UTC is on another calendar day from 17:00 to
# 24:00 UTC, when "now" of the machine and the province's day disagree (the results count by the
# province's day). Subprocesses inherit it.
os.environ["TZ"] = "Asia/Ho_Chi_Minh"
__import__("time").tzset()

import pytest  # noqa: E402

from tests.support import LiveServer, free_port, make_enroll_code, server_db_location  # noqa: E402,F401


@pytest.fixture
def server(tmp_path):
    """A real ``hailong-server serve`` process on 127.0.0.1 with a fresh SQLite file."""
    live = LiveServer(server_db_location(tmp_path), free_port())
    live.start()
    yield live
    live.stop()


# The server tests that run a second time on PostgreSQL (HAILONG_TEST_DB=postgres, from .ci/run):
# everything that talks to the server's storage. Kiosk, Qt, installer and demo tests do not.
SERVER_MODULES = ("test_protocol.py", "test_e2e_", "test_units.py", "test_errors_catalogue.py", "test_server_",
                  "test_results", "test_pull", "test_phone", "test_qr", "test_posters", "test_privacy", "test_export",
                  "test_dossier_")


@pytest.fixture(autouse=True)
def _uuid7_floor_restored():
    """Each test starts from the id generator's real-time floor. ``uuid7`` never goes below the newest
    millisecond the process used (a kiosk's ids rise with its sequence even when its clock steps
    back); a test that moves a clock ahead would otherwise leave every later test's ids "made in the
    future" (a comment link to such an answer is refused as forged)."""
    from hailong_core import ids

    saved = (ids._last_ms, ids._counter)
    yield
    ids._last_ms, ids._counter = saved


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: a test about the SQLite file itself; not run on PostgreSQL")


def pytest_ignore_collect(collection_path, config):
    from tests.support import BACKEND

    if BACKEND == "postgres" and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return not collection_path.name.startswith(SERVER_MODULES)
    return None


def pytest_collection_modifyitems(config, items):
    from tests.support import BACKEND

    if BACKEND == "postgres":
        kept = [item for item in items if item.get_closest_marker("sqlite_only") is None]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
