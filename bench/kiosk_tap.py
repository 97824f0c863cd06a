"""Tap-to-durable on the kiosk: from a face tap to the committed row, over 1,000 taps.

Run: ``python -m bench.kiosk_tap``. Taps go through the real window (Qt offscreen) and the real
store (WAL, synchronous=FULL) in a temp folder; the baseline is a bare single-row INSERT+COMMIT
with the same pragmas, measured in the same run.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402

TAPS = 1000


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def raw_commit_ms(path: Path) -> list[float]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    out = []
    for i in range(TAPS):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", ('{"overall":5}',))
        conn.execute("COMMIT")
        out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return out


def tap_ms(folder: Path) -> list[float]:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from kiosk import settings as kiosk_settings
    from kiosk.app import build
    from kiosk.store import Store

    app = QApplication.instance() or QApplication([])
    store = Store(folder / "kiosk.sqlite3")
    store.set_meta(unit_code="7201")
    window, worker = build(store, kiosk_settings.load(folder, thank_you_s=60, input_guard_s=0))
    window.resize(1280, 800)
    window.show()
    saved: list[str] = []
    window.sig_rating_saved.connect(saved.append)
    out = []
    for i in range(TAPS):
        window.show_start()
        app.processEvents()
        face = window.start_screen.faces()[4 - i % 2]  # satisfied faces: one tap, straight to thank-you
        t0 = time.perf_counter()
        QTest.mouseClick(face, Qt.MouseButton.LeftButton)
        out.append((time.perf_counter() - t0) * 1000)
        assert len(saved) == i + 1, "a tap did not store an answer"
    assert store.counts()["pending"] == TAPS
    window.close()
    store.close()
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = raw_commit_ms(tmp / "raw.sqlite3")
        taps = tap_ms(tmp)
    figure("tap_to_durable_p50", statistics.median(taps), "ms")
    figure("tap_to_durable_p99", pct(taps, 0.99), "ms")
    figure("tap_to_durable_max", max(taps), "ms")
    figure("raw_sqlite_commit_p50", statistics.median(raw), "ms")
    figure("raw_sqlite_commit_p99", pct(raw, 0.99), "ms")


if __name__ == "__main__":
    main()
