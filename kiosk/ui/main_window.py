"""The kiosk window: start → (commit) → thank-you → start, or start → error → start.

A tap stores the answer synchronously on the UI thread: a local SQLite commit takes well under a
millisecond, and contract 1 says the thank-you shows only after it committed. Nothing here waits
on the network; sync runs in :mod:`kiosk.ui.worker` and reports through :meth:`on_sync_finished`.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QWidget

from hailong_core.questionnaire import Questionnaire, QuestionnaireError, load_default_questionnaire, parse_questionnaire
from kiosk.store import Store, StoreError
from kiosk.ui.screens import ErrorScreen, StartScreen, ThankYouScreen
from kiosk.ui.strings import DEFAULT_LANG, tr

log = logging.getLogger(__name__)


class KioskWindow(QMainWindow):
    """The citizen-facing window: one question, a row of faces, and what follows a tap."""

    sig_rating_saved = Signal(str)
    """Fires after a citizen's answer committed to the store; carries the response id.

    By then the thank-you screen is current.
    """

    sig_rating_failed = Signal(str)
    """Fires when storing an answer failed (nothing stored); carries the error message.

    By then the error screen is current, and no thank-you was shown.
    """

    sig_start_shown = Signal()
    """Fires when the window returns to the start screen after a thank-you or error screen."""

    def __init__(self, store: Store, settings, lang: str = DEFAULT_LANG, parent: QWidget | None = None):
        super().__init__(parent)
        self._store = store
        self._settings = settings
        self._lang = lang
        self.questionnaire: Questionnaire | None = None
        self.setWindowTitle(tr("window_title", lang))

        self.start_screen = StartScreen()
        self.thanks_screen = ThankYouScreen()
        self.error_screen = ErrorScreen()
        self.stack = QStackedWidget()
        for screen in (self.start_screen, self.thanks_screen, self.error_screen):
            self.stack.addWidget(screen)
        self.setCentralWidget(self.stack)

        self._return_timer = QTimer(self)
        self._return_timer.setSingleShot(True)
        self._return_timer.setInterval(int(settings.thank_you_s * 1000))
        self._return_timer.timeout.connect(self.show_start)

        self.start_screen.sig_level_chosen.connect(self._on_level_chosen)
        self.reload_config()

    # --- config ------------------------------------------------------------------------------

    def reload_config(self) -> None:
        """Read the questionnaire and unit from the store's config and rebuild the start screen.

        Before the first config (or if it is unreadable) the shipped default questionnaire is
        used, so a kiosk that has never reached the server still collects answers.
        """
        config: dict = {}
        try:
            config = self._store.get_meta("config") or {}
        except StoreError:
            log.exception("could not read the config; using the default questionnaire")
        questionnaire = None
        if config.get("questionnaire"):
            try:
                questionnaire = parse_questionnaire(config["questionnaire"])
            except QuestionnaireError:
                log.exception("the server's questionnaire is invalid; using the default")
        self.questionnaire = questionnaire or load_default_questionnaire()
        unit_name = (config.get("unit") or {}).get("name") or tr("unit_fallback", self._lang)
        self.start_screen.set_content(unit_name, self.questionnaire.overall, self._lang)

    @Slot(dict)
    def on_sync_finished(self, report: dict) -> None:
        """A sync round ended (see ``SyncWorker.sig_sync_finished``); rebuild on a new config."""
        if report.get("config_changed"):
            self.reload_config()

    # --- the citizen's path ------------------------------------------------------------------

    def current_screen(self) -> QWidget:
        """The screen now shown."""
        return self.stack.currentWidget()

    @Slot()
    def show_start(self) -> None:
        """Back to the start screen, ready for the next citizen."""
        self._return_timer.stop()
        self.stack.setCurrentWidget(self.start_screen)
        self.sig_start_shown.emit()

    @Slot(int)
    def _on_level_chosen(self, value: int) -> None:
        if self.stack.currentWidget() is not self.start_screen:
            return  # a late tap from the previous screen: never a second answer
        overall = self.questionnaire.overall
        try:
            # Read per tap: enrolment may set the unit code while the window is open.
            unit_code = self._store.get_meta("unit_code") or ""
            record = self._store.record_response(
                unit_code=unit_code,
                questionnaire=self.questionnaire.ref,
                answers={overall.id: value},
            )
        except StoreError as exc:
            log.error("answer not stored (level %s of %s): %s", value, overall.id, exc)
            self._show_for_a_while(self.error_screen)
            self.sig_rating_failed.emit(str(exc))
            return
        self._show_for_a_while(self.thanks_screen)
        self.sig_rating_saved.emit(record["id"])

    def _show_for_a_while(self, screen: QWidget) -> None:
        self.stack.setCurrentWidget(screen)
        self._return_timer.start()
