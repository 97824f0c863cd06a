"""The kiosk installer against a scratch root; systemd units verified by systemd-analyze."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

UNITS = ROOT / "installer" / "systemd"


def _fill(text: str) -> str:
    return text.replace("@PREFIX@", "/opt/hailong").replace("@DATA@", "/var/lib/hailong-kiosk")


def _fake_root(tmp_path: Path) -> Path:
    """A root holding the binaries the units name, so verify checks our files, not this machine."""
    root = tmp_path / "root"
    for exe in ("usr/bin/cage", "opt/hailong/venv/bin/hailong-kiosk", "opt/hailong/venv/bin/hailong-server"):
        path = root / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    # The system's own units (sysinit.target, graphical.target, …) that ours depend on.
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    return root


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["hailong-kiosk.service", "hailong-server.service", "hailong-server-maintain.service",
                                  "hailong-server-maintain.timer"])
def test_units_pass_systemd_analyze_verify(tmp_path, unit):
    root = _fake_root(tmp_path)
    for shipped in UNITS.iterdir():  # a timer is verified with the service it starts
        (root / "etc/systemd/system" / shipped.name).write_text(_fill(shipped.read_text()))
    target = root / "etc/systemd/system" / unit
    out = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no", str(target)],
                         capture_output=True, text=True, timeout=60)
    problems = [line for line in (out.stdout + out.stderr).splitlines() if unit in line or "Unknown" in line]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr


def test_unit_restarts_and_watches(tmp_path):
    text = (UNITS / "hailong-kiosk.service").read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "User=hailong-kiosk", "NoNewPrivileges=yes"):
        assert line in text
    assert "ExecStart=/usr/bin/cage" in text


@pytest.mark.slow
def test_install_into_scratch_root_then_uninstall(tmp_path):
    root = tmp_path / "scratch"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(["bash", str(ROOT / "installer/install-kiosk.sh"), "--root", str(root), "--source", str(ROOT)],
                         capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "self-test passed" in out.stdout
    unit = root / "etc/systemd/system/hailong-kiosk.service"
    assert "/opt/hailong/venv/bin/hailong-kiosk --data-dir /var/lib/hailong-kiosk run" in unit.read_text()
    assert "@PREFIX@" not in unit.read_text()
    assert (root / "etc/systemd/system/graphical.target.wants/hailong-kiosk.service").is_symlink()
    assert (root / "etc/pam.d/hailong-kiosk").exists()
    passwd = (root / "etc/passwd").read_text()
    assert any(line.startswith("hailong-kiosk:") and line.endswith(":/usr/sbin/nologin") for line in passwd.splitlines())
    data = root / "var/lib/hailong-kiosk"
    assert (data / "kiosk.sqlite3").exists() and oct(data.stat().st_mode & 0o777) == "0o700"
    assert (root / "opt/hailong/app/assets/units/bac_giang_2023.json").exists()

    # Uninstall keeps the database by default ...
    out = subprocess.run(["bash", str(ROOT / "installer/uninstall-kiosk.sh"), "--root", str(root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not (root / "opt/hailong").exists() and not unit.exists()
    assert (data / "kiosk.sqlite3").exists()
    # ... and --purge removes it (nothing pending here).
    subprocess.run(["bash", str(ROOT / "installer/uninstall-kiosk.sh"), "--root", str(root), "--purge"],
                   capture_output=True, text=True, timeout=120, check=True)
    assert not data.exists()
    assert "hailong-kiosk:" not in (root / "etc/passwd").read_text()
