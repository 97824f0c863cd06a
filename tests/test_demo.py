"""README command 1's core: the demo starts a server, enrols a kiosk, and the kiosk syncs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT, free_port, server_cli


def test_demo_runs_headless_and_syncs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "tools.demo", "--data", str(tmp_path), "--port", str(free_port()),
                          "--answers", "5", "--exit-after-sync"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No display" in out.stdout and "Không có màn hình" in out.stdout
    assert "http://127.0.0.1:" in out.stdout
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert f"admin / {password}" in out.stdout
    assert json.loads(server_cli(tmp_path / "server.sqlite3", "stats", "--json").stdout) == {"7201": 5}
