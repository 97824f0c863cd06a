"""``hailong-kiosk set-admin-pin`` and ``hailong-kiosk screenshots``, run as IT staff would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from kiosk.pins import admin_pin
from kiosk.store import Store

ROOT = Path(__file__).resolve().parent.parent


def kiosk_cli(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data), *args], input=stdin, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def test_set_admin_pin_reads_stdin_and_stores_only_a_hash(tmp_path):
    done = kiosk_cli(tmp_path, "set-admin-pin", stdin="482916\n")
    assert done.returncode == 0, done.stderr
    store = Store(tmp_path / "kiosk.sqlite3")
    stored = store.get_meta("local_admin_pin_hash")
    assert stored.startswith("$argon2id$") and "482916" not in stored
    assert admin_pin(None, stored, enrolled=True).verify("482916")
    store.close()
    refused = kiosk_cli(tmp_path, "set-admin-pin", stdin="12ab\n")
    assert refused.returncode == 2 and "digits" in refused.stderr


def test_screenshots_write_every_screen(tmp_path):
    out = tmp_path / "shots"
    done = kiosk_cli(tmp_path, "screenshots", "--out", str(out), "--size", "800x1280", "--lang", "en")
    assert done.returncode == 0, done.stderr
    from kiosk.ui.screenshots import SCREENS

    names = sorted(p.name for p in out.glob("*.png"))
    assert names == sorted(f"en-800x1280-{s}.png" for s in SCREENS)
    image = QImage(str(out / "en-800x1280-thanks.png"))
    assert (image.width(), image.height()) == (800, 1280)
