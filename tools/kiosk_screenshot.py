"""Screenshots of the kiosk's screens, for reviews and docs.

Run on a real X display (fonts and rendering as on a kiosk), e.g. under Xvfb::

    xvfb-run -a -s "-screen 0 1920x1080x24" python -m tools.kiosk_screenshot out/ --size 1280x800 --size 1920x1080

Writes ``start-<W>x<H>.png``, ``thanks-<W>x<H>.png`` and ``error-<W>x<H>.png`` (and with
``--three-levels`` a 3-level start screen) into the output folder. Uses a temporary store; no
network (the sync worker is not started).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from kiosk import settings as kiosk_settings
from kiosk.app import build, ensure_vietnamese_font
from kiosk.store import Store, StoreError

DEMO_UNIT = {"code": "7201", "name": "Bộ phận một cửa — UBND xã Tân Tiến, huyện Lục Nam", "level": "commune"}


def _three_level_config() -> dict:
    from hailong_core.questionnaire import load_default_questionnaire

    doc = dict(load_default_questionnaire().to_dict())
    overall = dict(doc["questions"][0])
    levels = overall["levels"]
    overall["levels"] = [dict(levels[1], value=1), dict(levels[2], value=2), dict(levels[3], value=3)]
    doc["questions"] = [overall]
    return {"questionnaire": doc, "unit": DEMO_UNIT}


def _settle(app: QApplication) -> None:
    """Let layouts and paints finish before grabbing (a short local event loop, not a sleep)."""
    loop = QEventLoop()
    QTimer.singleShot(150, loop.quit)
    loop.exec()
    app.processEvents()


def shoot(out: Path, size: tuple[int, int], three_levels: bool = False) -> list[Path]:
    """Grab the start, thank-you and error screens at ``size``; return the PNG paths."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    ensure_vietnamese_font(app)
    w, h = size
    suffix = f"{w}x{h}" + ("-3" if three_levels else "")
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "kiosk.sqlite3")
        store.set_meta(unit_code=DEMO_UNIT["code"],
                       config=_three_level_config() if three_levels else {"unit": DEMO_UNIT})
        # A long thank-you so the screen is still there when grabbed.
        window, worker = build(store, kiosk_settings.load(Path(tmp), thank_you_s=60))
        window.resize(w, h)
        window.show()
        _settle(app)
        written.append(_save(window, out / f"start-{suffix}.png"))
        window.start_screen.faces()[-1].click()
        _settle(app)
        written.append(_save(window, out / f"thanks-{suffix}.png"))

        def fail(**_kwargs):
            raise StoreError("scripted failure for the screenshot")

        window.show_start()
        store.record_response = fail  # the error screen, as when the disk fails
        window.start_screen.faces()[0].click()
        _settle(app)
        written.append(_save(window, out / f"error-{suffix}.png"))
        # Pressed state: hold a face down and grab the start screen.
        window.show_start()
        window.start_screen.faces()[1].setDown(True)
        _settle(app)
        written.append(_save(window, out / f"pressed-{suffix}.png"))
        window.close()
        worker.stop()
        store.close()
    return written


def _save(window, path: Path) -> Path:
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--size", action="append", default=[], help="window size WxH (repeatable; default 1280x800)")
    parser.add_argument("--three-levels", action="store_true", help="also shoot a 3-level questionnaire")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in (args.size or ["1280x800"])]
    for size in sizes:
        for path in shoot(args.out, size):
            print(path)
        if args.three_levels:
            for path in shoot(args.out, size, three_levels=True):
                print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
