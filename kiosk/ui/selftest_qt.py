"""The Qt part of ``hailong-kiosk self-test`` (kept under ``kiosk/ui`` so the logic stays Qt-free)."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from kiosk.app import build, ensure_vietnamese_font


def check_qt(store, settings) -> str:
    """Qt starts, a font draws Vietnamese, and the kiosk window builds and paints; raises otherwise."""
    app = QApplication.instance() or QApplication([])
    family = ensure_vietnamese_font(app)
    metrics = QFontMetrics(app.font())
    missing = [ch for ch in "ĐđƯươỘộỹẫ" if not metrics.inFontUcs4(ord(ch))]
    if missing:
        raise RuntimeError(f"font {family!r} lacks {''.join(missing)}")
    window, worker = build(store, settings)
    try:
        window.resize(1280, 800)
        image = window.grab()
        if image.isNull():
            raise RuntimeError("the window did not paint")
    finally:
        worker.stop()
        window.request_exit()  # the kiosk window ignores plain close requests (lockdown)
    return f"platform {app.platformName()}, font {family}, window painted {image.width()}x{image.height()}"
