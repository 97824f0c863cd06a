"""Test helpers: run the real server in a child process, make enrolment codes, build records."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent

# Which server back end the server tests run on: "sqlite" (default) or "postgres", with
# HAILONG_TEST_PG_URL naming a scratch cluster's database (.ci/run starts one).
BACKEND = os.environ.get("HAILONG_TEST_DB", "sqlite")
PG_URL = os.environ.get("HAILONG_TEST_PG_URL", "")
_TEMPLATE = "hailong_template"


def server_db_location(folder: Path, name: str = "server.sqlite3", seed: str | None = None):
    """Where a test's fresh server database lives: a SQLite file in ``folder`` (seeded when first
    opened, with the trees ``HAILONG_SERVER_SEED_UNITS`` of its opener names), or a new PostgreSQL
    database cloned from a migrated template seeded with ``seed`` (default: that variable now)."""
    if BACKEND != "postgres":
        return Path(folder) / name
    return _fresh_pg_database(seed or os.environ.get("HAILONG_SERVER_SEED_UNITS", "all"))


def _admin_url(database: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{database}"


def _fresh_pg_database(seed: str = "all") -> str:
    import uuid

    import psycopg

    from sync_server.storage.migrations import MIGRATIONS

    if not PG_URL:
        raise RuntimeError("HAILONG_TEST_DB=postgres needs HAILONG_TEST_PG_URL")
    seed = "2023" if seed == "2023" else "all"
    # One template per schema and seed: a cluster kept between runs never hands out a stale schema.
    template = f"{_TEMPLATE}_{len(MIGRATIONS)}_{seed}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
    if not exists:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {template}")
        from sync_server.storage import open_storage

        before = os.environ.get("HAILONG_SERVER_SEED_UNITS")
        os.environ["HAILONG_SERVER_SEED_UNITS"] = seed
        try:
            open_storage(_admin_url(template)).close()  # migrate and seed once; clones start from here
        finally:
            if before is None:
                os.environ.pop("HAILONG_SERVER_SEED_UNITS", None)
            else:
                os.environ["HAILONG_SERVER_SEED_UNITS"] = before
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return _admin_url(name)


def is_url(db) -> bool:
    return str(db).startswith(("postgres://", "postgresql://"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``hailong-server --db DB ARGS`` and return the finished process (check=True)."""
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)


def make_enroll_code(db: Path, unit: str = "7201", *extra: str) -> str:
    """A fresh single-use code from the real CLI (its last line)."""
    return server_cli(db, "enroll-code", "--unit", unit, *extra).stdout.strip().splitlines()[-1]


class LiveServer:
    """``hailong-server serve`` as a child process; start, kill -9, restart on the same file."""

    def __init__(self, db, port: int, env: dict | None = None):
        self.db = db if is_url(db) else Path(db)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = (Path(tempfile.mkdtemp()) / "server.log") if is_url(db) else self.db.with_suffix(".log")

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self._log_fh = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "sync_server.cli", "--db", str(self.db), "serve",
                                      "--host", "127.0.0.1", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=self._log_fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when the power goes."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        fh = getattr(self, "_log_fh", None)
        if fh:
            fh.close()
            self._log_fh = None

    def enroll_code(self, unit: str = "7201") -> str:
        return make_enroll_code(self.db, unit)

    def stats(self) -> dict:
        import json

        return json.loads(server_cli(self.db, "stats", "--json").stdout)
