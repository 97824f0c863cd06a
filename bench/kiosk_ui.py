"""Kiosk UI figures, each beside a baseline measured in the same run.

Run: ``python -m bench.kiosk_ui``. Prints ``name=value unit`` lines:

- ``tap_to_thanks_painted_p99``: face tap → durable commit (WAL, synchronous=FULL) → thank-you
  screen current *and painted* (forced repaint + processEvents), over 10,000 taps; baseline
  ``raw_sqlite_commit_p99`` (a bare one-row INSERT+COMMIT, same pragmas). Target ≤ 50 ms.
- ``cold_start_to_attract``: a fresh Python process until the start screen has painted (median
  of 5); baseline ``cold_start_empty_qt``: a fresh process showing an empty QWidget. Target ≤ 2 s.
- ``rss_after_10000_answers``; baseline ``rss_window_built`` (before the first answer). Target ≤ 250 MB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402
from bench.kiosk_tap import pct, raw_commit_ms  # noqa: E402

ANSWERS = 10_000
STARTS = 5

_COLD_KIOSK = r"""
import os, sys, tempfile, time
from pathlib import Path
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from kiosk import settings as ks
from kiosk.app import build, ensure_vietnamese_font
from kiosk.store import Store
app = QApplication([])
ensure_vietnamese_font(app)
tmp = Path(tempfile.mkdtemp())
store = Store(tmp / "kiosk.sqlite3")
window, worker = build(store, ks.load(tmp, input_guard_s=0))
class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print("PAINTED", flush=True); os._exit(0)
        return False
f = Painted(); window.start_screen.installEventFilter(f)
window.resize(1280, 800); window.show()
app.exec()
"""

_COLD_EMPTY = r"""
import os
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget()
class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print("PAINTED", flush=True); os._exit(0)
        return False
f = Painted(); w.installEventFilter(f)
w.resize(1280, 800); w.show()
app.exec()
"""


def cold_start_s(script: str) -> float:
    times = []
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for _ in range(STARTS):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
                             cwd=Path(__file__).resolve().parent.parent)
        elapsed = time.perf_counter() - t0
        assert "PAINTED" in out.stdout, out.stderr[-2000:]
        times.append(elapsed)
    return statistics.median(times)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def taps(folder: Path) -> tuple[list[float], float, float]:
    from PySide6.QtCore import QCoreApplication, QEvent, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from kiosk import settings as kiosk_settings
    from kiosk.app import build, ensure_vietnamese_font
    from kiosk.store import Store

    app = QApplication.instance() or QApplication([])
    ensure_vietnamese_font(app)
    store = Store(folder / "kiosk.sqlite3")
    store.set_meta(unit_code="7201", server_url="https://hailong.bacgiang.gov.vn")
    window, worker = build(store, kiosk_settings.load(folder, thank_you_s=60, input_guard_s=0))
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    saved: list[str] = []
    window.sig_rating_saved.connect(saved.append)
    built = rss_mb()
    out = []
    for i in range(ANSWERS):
        window.show_start()
        app.processEvents()
        face = window.start_screen.faces()[4 - i % 2]
        t0 = time.perf_counter()
        QTest.mouseClick(face, Qt.MouseButton.LeftButton)
        window.repaint()          # paint the thank-you screen now, synchronously
        app.processEvents()
        out.append((time.perf_counter() - t0) * 1000)
        assert window.current_screen() is window.thanks_screen and len(saved) == i + 1
        if i % 500 == 0:
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert store.counts()["pending"] == ANSWERS
    after = rss_mb()
    window.request_exit()
    store.close()
    return out, built, after


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = raw_commit_ms(tmp / "raw.sqlite3")
        tap_ms, built, after = taps(tmp)
    figure("tap_to_thanks_painted_p50", statistics.median(tap_ms), "ms")
    figure("tap_to_thanks_painted_p99", pct(tap_ms, 0.99), "ms")
    figure("tap_to_thanks_painted_max", max(tap_ms), "ms")
    figure("raw_sqlite_commit_p50", statistics.median(raw), "ms")
    figure("raw_sqlite_commit_p99", pct(raw, 0.99), "ms")
    figure("rss_window_built", built, "MB")
    figure("rss_after_10000_answers", after, "MB")
    figure("cold_start_to_attract", cold_start_s(_COLD_KIOSK), "s")
    figure("cold_start_empty_qt", cold_start_s(_COLD_EMPTY), "s")


if __name__ == "__main__":
    main()
