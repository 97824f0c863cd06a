"""PNG screenshots of every kiosk screen, in each language and size: ``hailong-kiosk screenshots``.

For reviews, the docs and IT staff. Uses a temporary store with a demo unit, officers (one with a
photo) and the default questionnaire; no network (the worker is not started). Offscreen
rendering is fine; fonts are the system's (Noto Sans when installed), as on a kiosk.
"""

from __future__ import annotations

import base64
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from kiosk import settings as kiosk_settings
from kiosk.store import Store

SIZES = ((1280, 800), (1920, 1080), (800, 1280))
LANGS = ("vi", "en")
SCREENS = ("attract", "faces", "large-text", "why", "criteria", "thanks", "error", "after-hours", "officer-sign-in",
           "pin", "admin")
ICT = timezone(timedelta(hours=7))
DEMO_UNIT = {"code": "7201", "name": "Bộ phận một cửa — UBND xã Tân Tiến, huyện Lục Nam", "level": "commune", "parent_code": "218"}
HOURS = {d: [["07:30", "11:30"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
DEMO_PIN = "2468"


def demo_photo() -> str:
    """A small drawn portrait as a PNG data URL (no image files, no Pillow)."""
    img = QImage(160, 160, QImage.Format.Format_RGB32)
    img.fill(QColor("#9EC5E8"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#2E4A6B"))
    p.drawEllipse(QPointF(80, 175), 70, 60)   # shoulders
    p.setBrush(QColor("#F1C9A5"))
    p.drawEllipse(QPointF(80, 70), 36, 42)    # face
    p.setBrush(QColor("#2B2B2B"))
    p.drawChord(40, 22, 80, 60, 0, 180 * 16)  # hair
    p.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode("ascii")


def demo_config(pin_hash: str) -> dict:
    from hailong_core.questionnaire import load_default_questionnaire

    return {
        "unit": DEMO_UNIT,
        "officers": [
            {"id": "cb-01", "name": "Nguyễn Thị Hoa", "title": "Công chức Tư pháp – Hộ tịch", "photo": demo_photo(), "pin_hash": pin_hash},
            {"id": "cb-02", "name": "Trần Văn Dũng", "title": "Công chức Địa chính – Xây dựng", "photo": None, "pin_hash": pin_hash},
            {"id": "cb-03", "name": "Lê Thị Phương Thảo", "title": None, "photo": None, "pin_hash": pin_hash},
        ],
        "questionnaire": load_default_questionnaire().to_dict(),
        "settings": {"cooldown_s": 5, "idle_timeout_s": 600, "burst_count": 5, "burst_window_s": 60,
                     "office_hours": HOURS, "admin_pin_hash": None},
    }


def _settle(app: QApplication) -> None:
    """Let layouts and paints finish before grabbing (a short local event loop, not a sleep)."""
    for _ in range(3):
        app.processEvents()
    loop = QEventLoop()
    QTimer.singleShot(20, loop.quit)
    loop.exec()
    app.processEvents()


class _Clock:
    def __init__(self):
        self.now = datetime(2031, 3, 3, 9, 15, tzinfo=ICT)  # a Monday morning

    def __call__(self) -> datetime:
        return self.now


def shoot(out: Path, size: tuple[int, int], lang: str) -> list[Path]:
    """Every screen at ``size`` in ``lang``; returns the PNG paths written."""
    from kiosk.pins import hash_pin
    from kiosk.ui.main_window import KioskWindow

    app = QApplication.instance()
    w, h = size
    written: list[Path] = []

    def grab(window, name: str) -> None:
        _settle(app)
        path = out / f"{lang}-{w}x{h}-{name}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        written.append(path)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "kiosk.sqlite3")
        store.set_meta(unit_code=DEMO_UNIT["code"], config=demo_config(hash_pin(DEMO_PIN)), default_lang=lang,
                       server_url="https://hailong.bacgiang.gov.vn", token="demo", device_id="kiosk-7201-01")
        clock = _Clock()
        settings = kiosk_settings.load(Path(tmp), thank_you_s=60, ask_criteria=True)
        window = KioskWindow(store, settings, lang, clock=clock)
        window.resize(w, h)
        window.show()
        grab(window, "attract")

        window.sessions.sign_in("cb-01", DEMO_PIN)
        window.refresh_officer()
        window.start_screen.faces()[3].setDown(True)
        grab(window, "faces")
        window.start_screen.faces()[3].setDown(False)

        window._apply_large(True)
        grab(window, "large-text")
        window._apply_large(False)

        window.start_screen.faces()[0].click()
        chips = window.followup_screen.chips()
        chips[0].click()
        chips[3].click()
        grab(window, "why")
        window.followup_screen.done_button.click()
        grab(window, "criteria")
        window.followup_screen.done_button.click()
        grab(window, "thanks")

        window.show_start()
        window._show_for_a_while(window.error_screen)
        grab(window, "error")

        clock.now = clock.now.replace(hour=18, minute=30)
        window.show_start()
        window.tick()
        grab(window, "after-hours")
        clock.now = clock.now.replace(hour=9, minute=15)
        window.show_start()

        window._go(window.roster_screen)
        grab(window, "officer-sign-in")
        window._on_officer_chosen("cb-01")
        for key in "24":
            window.pin_screen.keypad.keys[key].click()
        grab(window, "pin")

        window.open_admin()
        window.admin_screen.show_result("test_connection: server reachable in 42 ms")
        grab(window, "admin")

        window.request_exit()
        window.deleteLater()
        _settle(app)
        store.close()
    return written


def shoot_all(out: Path, sizes=SIZES, langs=LANGS) -> list[Path]:
    """Every screen, language and size into ``out``; needs a ``QApplication``."""
    from kiosk.app import ensure_vietnamese_font

    app = QApplication.instance()
    ensure_vietnamese_font(app)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for size in sizes:
        for lang in langs:
            written += shoot(out, size, lang)
    return written


def run(out: Path, sizes=SIZES, langs=LANGS) -> list[Path]:
    """:func:`shoot_all`, creating the ``QApplication`` when there is none (the CLI's entry)."""
    import sys

    _app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive while shooting
    return shoot_all(out, sizes, langs)
