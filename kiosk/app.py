"""The kiosk's composition root: the one place that builds the window and the worker and wires them.

Widgets and the worker know nothing of each other; the signals are connected here.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QApplication

from kiosk import diagnostics, local_api, prompts, updater
from kiosk.store import Store
from kiosk.sync import SyncService
from kiosk.ui.main_window import KioskWindow
from kiosk.ui.worker import SyncWorker
from kiosk.voice import Voice

log = logging.getLogger(__name__)

# Letters a Vietnamese font must draw: stacked tone marks on circumflex and breve vowels, horn
# vowels and đ. A font lacking any of them shows boxes on the screen.
VIETNAMESE_SAMPLE = "ĐđƠơƯưẶặẦầỄễỚớỰựỷỹ"
PREFERRED_FAMILIES = ("Noto Sans", "DejaVu Sans")
FONT_FILES = (
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)


def covers_vietnamese(font: QFont) -> bool:
    """True when ``font`` itself (not a fallback) has every letter of :data:`VIETNAMESE_SAMPLE`."""
    metrics = QFontMetrics(font)
    return all(metrics.inFontUcs4(ord(ch)) for ch in VIETNAMESE_SAMPLE)


def ensure_vietnamese_font(app: QApplication) -> str:
    """Make the application font one that draws Vietnamese; return its family.

    Prefers Noto Sans, then DejaVu Sans, when installed (their large sizes read well on a kiosk);
    else keeps the default if it covers Vietnamese; else loads the known font files. If nothing
    fits, the default stays and a warning is logged: Qt's own font fallback may still cope.
    """
    default = app.font()
    size = default.pointSizeF() if default.pointSizeF() > 0 else 12.0
    families = set(QFontDatabase.families())
    for family in PREFERRED_FAMILIES:
        if family in families and covers_vietnamese(QFont(family)):
            app.setFont(QFont(family, size))
            return family
    if covers_vietnamese(default):
        return default.family()
    for path in FONT_FILES:
        if not Path(path).exists():
            continue
        font_id = QFontDatabase.addApplicationFont(path)
        for family in QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else ():
            if covers_vietnamese(QFont(family)):
                app.setFont(QFont(family, size))
                return family
    log.warning("no font with Vietnamese letters found; text may show boxes")
    return default.family()


def build(store: Store, settings, *, service=None, clock=None, voice=None, monotonic=None) -> tuple[KioskWindow, SyncWorker]:
    """The window and the sync worker, wired together (not shown, not started).

    Needs a ``QApplication``. Tests use this to get the same wiring as :func:`run`; ``service``
    replaces the :class:`SyncService` (anything with ``run_round(force)``) to script a round;
    ``clock`` replaces the window's province clock (office hours, end of day); ``voice`` speaks
    the prompts (:class:`kiosk.voice.Voice`; none: silent); ``monotonic`` the window's monotonic
    clock (the tap guard, a scanner's keystroke timing, how long a dossier code waits).
    """
    extra = {"monotonic": monotonic} if monotonic is not None else {}
    window = KioskWindow(store, settings, clock=clock, voice=voice, **extra)
    worker = SyncWorker(service or SyncService(store, settings))
    # Receivers are slots of QObjects, so Qt queues each call onto the receiver's thread: the
    # window reacts on the UI thread, the worker writes on its own. (A lambda here would run in
    # the sender's thread.)
    worker.sig_sync_finished.connect(window.on_sync_finished)
    worker.sig_job_finished.connect(window.on_job_finished)
    window.sig_rating_failed.connect(worker.record_error)
    window.sig_sync_requested.connect(worker.request_sync_now)
    window.sig_job_requested.connect(worker.submit)
    return window, worker


def run(data_dir: Path, settings, store: Store, *, fullscreen: bool = True) -> int:
    """Run the kiosk until the window closes; return the event loop's exit code.

    ``data_dir`` is the kiosk's data folder (logged; the store and settings were opened from it).
    """
    # The kiosk's own log file, which the fleet page can ask for (kiosk/diagnostics.py).
    diagnostics.install_log_file(diagnostics.log_path(store))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    family = ensure_vietnamese_font(app)
    log.info("kiosk UI starting: data %s, font %s", data_dir, family)
    voice = Voice(prompts.folder(store), volume=settings.voice_volume, muted=not settings.voice,
                  player=settings.voice_player, on_problem=store.note_error)
    # Remote update (kiosk/updater.py): the worker's rounds also prepare a staged release; the
    # window says when it is idle; a round that switched release ends the loop with EXIT_RESTART.
    gate = updater.IdleGate()
    service = updater.updating(SyncService(store, settings), store, settings, data_dir, gate=gate)
    window, worker = build(store, settings, voice=voice, service=service)
    window.sig_exit_requested.connect(app.quit)
    _watch_idle(window, gate)
    restarter = _Restarter(app)
    worker.sig_sync_finished.connect(restarter.on_round)
    if fullscreen:
        window.lock_down()
    else:
        window.show()
    worker.start()
    # The counter systems' local API (issue 14), when the kiosk's own settings turn it on: a
    # listener of its own that only sets the answering logic's waiting dossier, never a widget.
    api = local_api.serve(settings, window.answering)
    _start_watchdog(window)
    try:
        return app.exec()
    finally:
        if api is not None:
            api.stop()
        worker.stop()
        voice.close()


def _watch_idle(window: KioskWindow, gate: updater.IdleGate) -> None:
    """Tell the updater's gate when the start (or after-hours) screen is shown or left.

    Plain callables run in the sender's thread, the UI thread here: they read the window there
    and hand the gate (thread-safe) two booleans.
    """
    def start_shown() -> None:
        gate.at_start(window.is_after_hours())

    def screen_changed(_name: str) -> None:
        current = window.current_screen()
        gate.moved(current is window.start_screen or current is window.after_hours_screen, window.is_after_hours())

    window.sig_start_shown.connect(start_shown)
    window.sig_screen_changed.connect(screen_changed)


class _Restarter(QObject):
    """Ends the event loop with :data:`kiosk.updater.EXIT_RESTART` once a round switched release
    (a QObject of the UI thread, so the worker's signal is queued onto it)."""

    def __init__(self, app: QApplication):
        super().__init__()
        self._app = app

    @Slot(dict)
    def on_round(self, report: dict) -> None:
        if report.get("restart"):
            log.warning("restarting into the new release")
            self._app.exit(updater.EXIT_RESTART)


def _start_watchdog(window: KioskWindow) -> None:
    """Tell systemd we are up, and keep pinging from the UI thread (a frozen loop stops the pings)."""
    from PySide6.QtCore import QTimer

    from kiosk import watchdog

    watchdog.ready()
    period = watchdog.interval_s()
    if period:
        timer = QTimer(window)
        timer.timeout.connect(lambda: watchdog.ping())
        timer.start(int(period * 1000))
