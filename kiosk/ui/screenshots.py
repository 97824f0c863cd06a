"""PNG screenshots of every kiosk screen, in each language and size: ``hailong-kiosk screenshots``.

For reviews, the docs and IT staff. Uses a temporary store with a demo unit, officers (one with a
photo) and the default questionnaire; no network (the worker is not started). Offscreen
rendering is fine; fonts are the system's (Noto Sans when installed), as on a kiosk.

Each size is shot as a real panel (:data:`PANELS`): 1280×800 is a 10.1-inch tablet (149.4 ppi),
800×1280 the same panel turned, 1920×1080 a 21.5-inch screen (102.5 ppi). The window is told that
density (:func:`kiosk.ui.style.set_display`, as the ``screen_dpi`` setting does on a kiosk), and
``sizes.txt`` beside the pictures gives, for every screen and size, with and without large text,
the smallest touch target and the smallest capital letters in millimetres on that glass.
"""

from __future__ import annotations

import base64
import math
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QPushButton, QWidget

from kiosk import settings as kiosk_settings
from kiosk.store import Store

SIZES = ((1280, 800), (1920, 1080), (800, 1280))
LANGS = ("vi", "en")
SCREENS = ("attract", "dossier-hint", "dossier-received", "faces", "large-text", "why", "why-large", "grave-confirm", "criteria", "criteria-large", "thanks",
           "thanks-apology", "reset-warning", "error", "after-hours", "officer-sign-in", "pin", "admin")
# The panel each size stands for: its diagonal in inches (the density follows from the pixels).
PANELS = {(1280, 800): 10.1, (800, 1280): 10.1, (1920, 1080): 21.5, (1080, 1920): 21.5}
OTHER_PANEL_DPI = 96.0  # a size not in PANELS: no panel known, the old logical 96 ppi
DEMO_HOTLINE = "0204 3 855 888"
GOAL_TARGET_MM = 15.0
GOAL_LARGE_FACE_MM = 25.0
ICT = timezone(timedelta(hours=7))
# Today's structure (since 1 July 2025 no districts): a ward of Bắc Ninh and the site the kiosk stands at.
DEMO_UNIT = {"code": "7210", "name": "Phường Bắc Giang", "level": "commune", "parent_code": "24"}
DEMO_SITE = {"id": 1, "name": "Trung tâm phục vụ hành chính công phường Bắc Giang", "address": "Số 1 Nguyễn Văn Cừ",
             "counter": "3", "counter_name": None}
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
        "site": DEMO_SITE,
        "officers": [
            {"id": "cb-01", "name": "Nguyễn Thị Hoa", "title": "Công chức Tư pháp – Hộ tịch", "photo": demo_photo(), "pin_hash": pin_hash,
             "counter": "3"},
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


def panel_dpi(size: tuple[int, int]) -> tuple[float, str]:
    """The density a screenshot of ``size`` assumes, and the panel it stands for."""
    diagonal = PANELS.get(tuple(size))
    if diagonal is None:
        return OTHER_PANEL_DPI, f"unknown panel, assumed {OTHER_PANEL_DPI:g} ppi"
    dpi = math.hypot(*size) / diagonal
    return dpi, f'{diagonal:g}" panel, {dpi:.1f} ppi'


def _visible(widget: QWidget) -> bool:
    return widget.isVisible() and widget.width() > 0 and widget.height() > 0


def measure(window: QWidget) -> dict:
    """The smallest touch target and text (cap height) now on ``window``, in mm on its panel.

    Targets: every visible button (faces, chips, toggles, keys, cards); text: every visible label,
    button text, face word and chip label. Also the faces' diameter, the QR code and the photo.
    """
    from kiosk.ui import style
    from kiosk.ui.faces import FaceButton
    from kiosk.ui.widgets import Avatar, Chip, QrWidget

    def name(w: QWidget) -> str:
        return w.objectName() or type(w).__name__

    result: dict = {"target": None, "text": None, "face": None, "qr": None, "photo": None}

    def keep(key: str, value: float, who: str) -> None:
        if result[key] is None or value < result[key][0]:
            result[key] = (value, who)

    for w in window.findChildren(QAbstractButton):
        if not _visible(w):
            continue
        keep("target", style.to_mm(w, min(w.width(), w.height())), name(w))
        if isinstance(w, FaceButton):
            keep("face", style.to_mm(w, w.face_diameter()), name(w))
            keep("text", style.cap_height_mm(w, w.label_font()), name(w))
        elif isinstance(w, Chip):
            keep("text", style.cap_height_mm(w, w.label_font()), name(w))
        elif isinstance(w, QPushButton) and w.text():  # other buttons paint their own labels (QLabel children)
            keep("text", style.cap_height_mm(w, w.font()), name(w))
    for w in window.findChildren(QLabel):
        if _visible(w) and w.text().strip():
            keep("text", style.cap_height_mm(w, w.font()), name(w))
    for w in window.findChildren(QLineEdit):
        if _visible(w):
            keep("text", style.cap_height_mm(w, w.font()), name(w))
    for w in window.findChildren(QrWidget):
        if _visible(w) and w.matrix():
            keep("qr", style.to_mm(w, min(w.width(), w.height())), name(w))
    for w in window.findChildren(Avatar):
        if _visible(w):
            keep("photo", style.to_mm(w, min(w.width(), w.height())), name(w))
    return result


def sizes_line(size: tuple[int, int], lang: str, screen: str, large: bool, m: dict) -> str:
    """One line of sizes.txt: the figures, then what misses a goal."""
    def fig(key: str) -> str:
        return f"{m[key][0]:5.1f} ({m[key][1]})" if m[key] else "    -"

    misses = []
    if m["target"] and m["target"][0] < GOAL_TARGET_MM - 0.05:
        misses.append(f"target < {GOAL_TARGET_MM:g} mm")
    if large and m["face"] and m["face"][0] < GOAL_LARGE_FACE_MM - 0.05:
        misses.append(f"large-text faces < {GOAL_LARGE_FACE_MM:g} mm")
    w, h = size
    return (f"{w}x{h:<5} {lang}  {'large ' if large else 'normal'}  {screen:<16} target {fig('target'):<30} "
            f"cap {fig('text'):<30} faces {fig('face'):<18} qr {fig('qr'):<18} photo {fig('photo'):<22} "
            + ("MISS: " + "; ".join(misses) if misses else "ok"))


def sizes_header(sizes) -> list[str]:
    lines = ["# Hài Lòng kiosk: physical sizes on the glass (hailong-kiosk screenshots)",
             "# Each screenshot size stands for a panel, and the window was sized at that panel's density:"]
    for size in sizes:
        lines.append(f"#   {size[0]}x{size[1]}: {panel_dpi(size)[1]}" + ("  (the 10.1-inch panel turned)" if tuple(size) == (800, 1280) else ""))
    lines += ["# target: the smallest touch target (its shorter side), cap: the smallest capital-letter height,",
              "# faces: the smallest face's diameter, qr: the QR code's side, photo: the officer's photo; all in mm,",
              "# with the widget that has it. Goals: every target >= 15 mm; with large text, faces >= 25 mm.",
              ""]
    return lines


def shoot(out: Path, size: tuple[int, int], lang: str, sizes: list[str] | None = None) -> list[Path]:
    """Every screen at ``size`` in ``lang``; returns the PNG paths written.

    With ``sizes`` (a list), a line per screen and text size is added to it (see :func:`measure`).
    """
    from kiosk.pins import hash_pin
    from kiosk.ui import style
    from kiosk.ui.main_window import KioskWindow

    app = QApplication.instance()
    w, h = size
    written: list[Path] = []

    def grab(window, name: str, *, large: bool | None = None) -> None:
        _settle(app)
        path = out / f"{lang}-{w}x{h}-{name}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        written.append(path)
        if sizes is None or large is None:
            return
        # The screen as shot, then with the other text size (put back after).
        sizes.append(sizes_line(size, lang, name, large, measure(window)))
        window._apply_large(not large)
        _settle(app)
        sizes.append(sizes_line(size, lang, name, not large, measure(window)))
        window._apply_large(large)
        _settle(app)

    def grab_large(window, name: str) -> None:
        """The current screen with large text (measured with large text only; the normal one is shot beside it)."""
        window._apply_large(True)
        _settle(app)
        path = out / f"{lang}-{w}x{h}-{name}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        written.append(path)
        window._apply_large(False)
        _settle(app)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "kiosk.sqlite3")
        store.set_meta(unit_code=DEMO_UNIT["code"], config=demo_config(hash_pin(DEMO_PIN)), default_lang=lang,
                       server_url="https://hailong.bacgiang.gov.vn", token="demo", device_id="kiosk-7201-01")
        clock = _Clock()
        settings = kiosk_settings.load(Path(tmp), thank_you_s=60, ask_criteria=True, input_guard_s=0)
        window = KioskWindow(store, settings, lang, clock=clock)
        style.set_display(window, screen_dpi=panel_dpi(size)[0])
        window.resize(w, h)
        window.show()
        grab(window, "attract", large=False)

        # The scan step (config dossier_scan): the invitation, then a receipt received (no code shown).
        window._dossier_scan = True
        window._show_dossier("hint")
        grab(window, "dossier-hint", large=False)
        window._show_dossier("attached")
        grab(window, "dossier-received", large=False)
        window._dossier_scan = False
        window._show_dossier(None)

        window.sessions.sign_in("cb-01", DEMO_PIN)
        session = window.refresh_officer()
        officer = next(o for o in store.get_meta("config")["officers"] if o["id"] == "cb-01")
        window.start_screen.set_officer(session, officer["photo"], officer=officer)  # title and counter too
        window.start_screen.faces()[3].setDown(True)
        grab(window, "faces", large=False)
        window.start_screen.faces()[3].setDown(False)

        window._apply_large(True)
        grab(window, "large-text")
        window._apply_large(False)

        window.start_screen.faces()[0].click()
        followup = window.followup_screen
        chips = followup.chips()
        chips[0].click()
        chips[3].click()
        grab(window, "why", large=False)
        grab_large(window, "why-large")
        grave = next((c for c in chips if c.grave), None)
        if grave is not None:
            followup.confirm.guard_s = 0  # scripted taps come at once; a citizen's double-tap is guarded
            grave.click()  # asks for the confirmation; [Không] below leaves it unticked
            grab(window, "grave-confirm", large=False)
            followup.confirm_no_button.click()
        followup.done_button.click()
        grab(window, "criteria", large=False)
        grab_large(window, "criteria-large")
        followup.done_button.click()
        link = window.thanks_screen.qr.text or "https://hailong.bacgiang.gov.vn/s/7201?r=0f5c2a4e-8d0b-4c1e-9a57-3b2f6d1e7a90"
        window.thanks_screen.set_thanks(link, apology=False, hotline=None)
        grab(window, "thanks", large=False)
        window.thanks_screen.set_thanks(link, apology=True, hotline=DEMO_HOTLINE)
        grab(window, "thanks-apology", large=False)

        window.show_start()
        window.start_screen.faces()[0].click()
        from kiosk.ui.widgets import ResetBanner

        banner = ResetBanner(window)
        banner.show_seconds(8, lang)
        grab(window, "reset-warning", large=False)
        banner.hide()
        banner.deleteLater()

        window.show_start()
        window._show_for_a_while(window.error_screen)
        grab(window, "error", large=False)

        clock.now = clock.now.replace(hour=18, minute=30)
        window.show_start()
        window.tick()
        grab(window, "after-hours", large=False)
        clock.now = clock.now.replace(hour=9, minute=15)
        window.show_start()

        window._go(window.roster_screen)
        grab(window, "officer-sign-in", large=False)
        window._on_officer_chosen("cb-01")
        for key in "24":
            window.pin_screen.keypad.keys[key].click()
        grab(window, "pin", large=False)

        window.open_admin()
        from kiosk import admin_messages

        window.admin_screen.show_message(admin_messages.describe_test({"ok": True, "message": "server reachable in 42 ms"}, lang))
        grab(window, "admin", large=False)

        window.request_exit()
        window.deleteLater()
        _settle(app)
        store.close()
    return written


def shoot_all(out: Path, sizes=SIZES, langs=LANGS) -> list[Path]:
    """Every screen, language and size into ``out``, and ``out/sizes.txt``; needs a ``QApplication``."""
    from kiosk.app import ensure_vietnamese_font

    app = QApplication.instance()
    ensure_vietnamese_font(app)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lines = sizes_header(sizes)
    for size in sizes:
        for lang in langs:
            written += shoot(out, size, lang, lines)
        lines.append("")
    report = out / "sizes.txt"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(report)
    return written


def run(out: Path, sizes=SIZES, langs=LANGS) -> list[Path]:
    """:func:`shoot_all`, creating the ``QApplication`` when there is none (the CLI's entry)."""
    import sys

    _app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive while shooting
    return shoot_all(out, sizes, langs)
