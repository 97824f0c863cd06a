"""Test helpers: run the real server in a child process, make enrolment codes, build records."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


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

    def __init__(self, db: Path, port: int, env: dict | None = None):
        self.db = Path(db)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = self.db.with_suffix(".log")

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
