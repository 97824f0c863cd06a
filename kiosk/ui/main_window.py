"""The kiosk window: the citizen's path, officer sign-in, the hidden admin screen, and lockdown.

Citizen: start → (tap: commit) → thank-you → start; or start → (tap: commit a draft) → follow-ups
(each answer committed) → (finish: draft made pending) → thank-you → start. A failed commit shows
the polite error screen instead, never a thank-you (contract 1). Walking away mid-way: after the
idle timeout the draft is finalised with flag ``incomplete`` and the start screen returns.

A commit runs on the UI thread: a local SQLite commit takes about a millisecond, and the thank-you
may only show after it. Nothing here waits on the network: sync, connection tests and enrolment
run on the worker (:mod:`kiosk.ui.worker`), requested by signal, answered by slot.

Rules live in Qt-free modules: :mod:`kiosk.flow` (which follow-up comes next), :mod:`kiosk.misuse`
(cool-down, bursts), :mod:`kiosk.hours`, :mod:`kiosk.session` (officer on duty), :mod:`kiosk.pins`.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QWidget

from hailong_core.config import kiosk_settings
from hailong_core.procedure_groups import valid_code
from hailong_core.questionnaire import Questionnaire, QuestionnaireError, load_default_questionnaire, parse_questionnaire
from hailong_core.response import FLAG_AFTER_HOURS, FLAG_INCOMPLETE
from hailong_core.timeutil import now_local
from kiosk import hours
from kiosk.flow import CitizenFlow
from kiosk.misuse import MisuseRules
from kiosk.pins import PinGuard, admin_pin
from kiosk.session import OfficerSessions, roster
from kiosk.store import Store, StoreError
from kiosk.ui import style
from kiosk.ui.admin import AdminScreen
from kiosk.ui.keypad import PinScreen
from kiosk.ui.officer import RosterScreen
from kiosk.ui.questions import FollowUpScreen
from kiosk.ui.screens import ErrorScreen, ThankYouScreen
from kiosk.ui.start import StartScreen
from kiosk.ui.strings import DEFAULT_LANG, LANGS, tr
from kiosk.ui.widgets import CornerHotspot

log = logging.getLogger(__name__)

ADMIN_IDLE_MIN_S = 120.0  # the admin screen closes by itself after this long untouched


class KioskWindow(QMainWindow):
    """The one window of the kiosk; a stack of screens driven by the citizen, officer and IT staff."""

    sig_rating_saved = Signal(str)
    """Fires after a citizen's answer is complete and committed (``pending``); carries its id.

    By then the thank-you screen is current.
    """

    sig_rating_failed = Signal(str)
    """Fires when storing an answer (or a follow-up) failed; carries the error message.

    By then the error screen is current, and no thank-you was shown.
    """

    sig_answer_started = Signal(str)
    """Fires when a face tap committed a draft and the first follow-up is shown; carries its id."""

    sig_answer_updated = Signal(str)
    """Fires after a follow-up answer (or a chip toggle) committed to the draft; carries its id."""

    sig_answer_abandoned = Signal(str)
    """Fires when the idle timeout finalised a draft as ``incomplete``; carries its id."""

    sig_start_shown = Signal()
    """Fires whenever the start (or after-hours) screen becomes current, ready for a citizen."""

    sig_screen_changed = Signal(str)
    """Fires when another screen becomes current; carries its object name (``start_screen``…)."""

    sig_officer_changed = Signal(object)
    """Fires after an officer signed in or out (also automatically); carries the session or None."""

    sig_pin_refused = Signal(str)
    """Fires when a PIN was wrong (or the pad is locked); carries the purpose (``sign_in``…)."""

    sig_admin_opened = Signal()
    """Fires when the admin screen opens after a correct admin PIN."""

    sig_sync_requested = Signal()
    """Fires when the admin asks for a sync (or config refresh) now; wired to the worker."""

    sig_job_requested = Signal(str, object)
    """Fires with a job name and a no-argument callable for the worker (connection test, enrolment)."""

    sig_exit_requested = Signal()
    """Fires when the admin chose "Thoát ứng dụng"; the window then closes for real."""

    def __init__(self, store: Store, settings, lang: str = DEFAULT_LANG, parent: QWidget | None = None, *,
                 clock: Callable[[], datetime] = now_local):
        super().__init__(parent)
        self._store = store
        self._settings = settings
        self._clock = clock
        self._default_lang = lang
        self._lang = lang
        self._large = False
        self._allow_close = False
        self._config: dict = {}
        self.questionnaire: Questionnaire | None = None
        self.rules = MisuseRules()
        self.idle_timeout_s = 30.0
        self.office_hours: dict | None = None
        self.sessions = OfficerSessions(store, clock=clock)
        self._admin_guard = PinGuard()
        self._session: dict | None = None
        self._flow: CitizenFlow | None = None
        self._draft_id: str | None = None
        self._pin_officer: str | None = None
        self.setWindowTitle(tr("window_title", lang))

        self.start_screen = StartScreen()
        self.after_hours_screen = StartScreen(quiet=True)
        self.followup_screen = FollowUpScreen()
        self.thanks_screen = ThankYouScreen()
        self.error_screen = ErrorScreen()
        self.roster_screen = RosterScreen()
        self.pin_screen = PinScreen()
        self.admin_screen = AdminScreen()
        self.stack = QStackedWidget()
        for screen in self.screens():
            self.stack.addWidget(screen)
        self.setCentralWidget(self.stack)
        self.hotspot = CornerHotspot(int(settings.long_press_s * 1000), self)
        self.hotspot.raise_()

        self._return_timer = self._timer(int(settings.thank_you_s * 1000), self.show_start)
        self._idle_timer = self._timer(30_000, self._on_idle)
        self._tick_timer = self._timer(int(settings.tick_s * 1000), self._on_tick, single=False)
        self._tick_timer.start()

        self._wire()
        try:
            self._default_lang = store.get_meta("default_lang") or lang
        except StoreError:
            log.exception("could not read the default language")
        self.reload_config()
        self._sweep_drafts(self.idle_timeout_s)
        self._apply_lang(self._default_lang)
        self.show_start()

    def _timer(self, ms: int, slot, single: bool = True) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(single)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    def _wire(self) -> None:
        for screen in (self.start_screen, self.after_hours_screen):
            screen.sig_level_chosen.connect(self._on_level_chosen)
            screen.sig_lang_chosen.connect(self._on_lang_chosen)
            screen.sig_large_text.connect(self._apply_large)
            screen.sig_officer_pressed.connect(self._on_officer_pressed)
        f = self.followup_screen
        f.sig_answered.connect(self._on_followup_answered)
        f.sig_selection_changed.connect(self._on_selection_changed)
        f.sig_next.connect(self._on_followup_next)
        f.sig_skip.connect(self._on_followup_skip)
        f.sig_finish.connect(self._on_followup_finish)
        self.thanks_screen.sig_tapped.connect(self.show_start)
        self.error_screen.sig_tapped.connect(self.show_start)
        self.roster_screen.sig_officer_chosen.connect(self._on_officer_chosen)
        self.roster_screen.sig_back.connect(self.show_start)
        self.pin_screen.sig_pin_entered.connect(self._on_pin_entered)
        self.pin_screen.sig_cancelled.connect(self.show_start)
        self.hotspot.sig_long_press.connect(self.open_admin_pin)
        a = self.admin_screen
        a.sig_close.connect(self.show_start)
        a.sig_exit.connect(self.request_exit)
        a.sig_sync_now.connect(self._on_admin_sync)
        a.sig_refresh_config.connect(self._on_admin_sync)
        a.sig_test_connection.connect(self._on_admin_test)
        a.sig_enrol.connect(self._on_admin_enrol)
        a.sig_sign_out_officer.connect(self._on_admin_sign_out)
        a.sig_default_lang.connect(self._on_default_lang)
        a.server_edit.textEdited.connect(self._poke)
        a.code_edit.textEdited.connect(self._poke)
        self.stack.currentChanged.connect(lambda i: self.sig_screen_changed.emit(self.stack.widget(i).objectName()))

    def screens(self) -> list[QWidget]:
        """Every screen of the window, in stack order."""
        return [self.start_screen, self.after_hours_screen, self.followup_screen, self.thanks_screen, self.error_screen,
                self.roster_screen, self.pin_screen, self.admin_screen]

    # --- config ------------------------------------------------------------------------------

    def reload_config(self) -> None:
        """Read questionnaire, unit, officers and settings from the store's config; rebuild the screens.

        Before the first config (or if it is unreadable) the shipped default questionnaire is
        used, so a kiosk that has never reached the server still collects answers. A citizen in
        the middle of follow-ups keeps the questionnaire they started with (their draft records it).
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
        self._config = config
        self.questionnaire = questionnaire or load_default_questionnaire()
        settings = kiosk_settings(config)
        self.rules = MisuseRules.from_config(config)
        self.idle_timeout_s = float(self._settings.idle_timeout_s or settings["idle_timeout_s"] or 30.0)
        self.office_hours = settings["office_hours"]
        unit_name = self.unit_name()
        self.start_screen.set_content(unit_name, self.questionnaire.overall)
        self.after_hours_screen.set_content(unit_name, self.questionnaire.overall)
        self.after_hours_screen.set_hours_text(hours.describe(self.office_hours, self._clock()))
        self.roster_screen.set_roster(roster(config))
        self.refresh_officer()

    def unit_name(self) -> str:
        return (self._config.get("unit") or {}).get("name") or tr("unit_fallback", self._lang)

    @Slot(dict)
    def on_sync_finished(self, report: dict) -> None:
        """A sync round ended (see ``SyncWorker.sig_sync_finished``); rebuild on a new config."""
        if report.get("config_changed"):
            self.reload_config()
        if self.current_screen() is self.admin_screen:
            self.refresh_admin()
            error = report.get("error")
            self.admin_screen.show_result(f"sync: {report.get('sent', 0)} sent, {report.get('kept_aside', 0)} kept aside"
                                          + (f"; {error}" if error else "") + ("; config updated" if report.get("config_changed") else ""))

    @Slot(str, dict)
    def on_job_finished(self, name: str, result: dict) -> None:
        """A worker job ended (connection test, enrolment); show its outcome to IT staff."""
        message = result.get("message") or result.get("error") or ("ok" if result.get("ok") else "failed")
        if name == "enrol" and result.get("ok"):
            message = f"enrolled as device {result.get('device_id')} for unit {result.get('unit_code')}"
            self.reload_config()
        self.admin_screen.show_result(f"{name}: {message}")
        if self.current_screen() is self.admin_screen:
            self.refresh_admin()

    # --- officer on duty -----------------------------------------------------------------------

    def refresh_officer(self) -> dict | None:
        """Re-read the session (ending it at end of day) and show it; return it."""
        try:
            session = self.sessions.current(self._config)
        except StoreError:
            log.exception("could not read the officer session")
            session = self._session
        photo = None
        if session:
            officer = next((o for o in roster(self._config) if o["id"] == session["officer_id"]), {})
            photo = officer.get("photo")
        changed = (session or {}).get("officer_id") != (self._session or {}).get("officer_id")
        self._session = session
        for screen in (self.start_screen, self.after_hours_screen):
            screen.set_officer(session, photo)
        if changed:
            self.sig_officer_changed.emit(session)
        return session

    def officer_on_duty(self) -> dict | None:
        return self._session

    @Slot()
    def _on_officer_pressed(self) -> None:
        session = self.refresh_officer()
        if session:
            officer = next((o for o in roster(self._config) if o["id"] == session["officer_id"]), session)
            self.pin_screen.open("sign_out", tr("pin_sign_out", self._lang, name=session["name"]), officer=officer)
            self._go(self.pin_screen)
        else:
            self._go(self.roster_screen)

    @Slot(str)
    def _on_officer_chosen(self, officer_id: str) -> None:
        officer = next((o for o in roster(self._config) if o["id"] == officer_id), None)
        if officer is None:
            return
        self._pin_officer = officer_id
        self.pin_screen.open("sign_in", tr("pin_for", self._lang, name=officer["name"]), officer=officer)
        self._go(self.pin_screen)

    # --- PIN pad and admin -----------------------------------------------------------------------

    @Slot()
    def open_admin_pin(self) -> None:
        """The hidden gesture happened: ask for the admin PIN (or say none is set)."""
        if self._flow is not None:
            return  # never over a citizen's answer
        source = self._admin_pin().source
        message = {"none": tr("admin_no_pin", self._lang), "default": tr("admin_default_pin", self._lang)}.get(source, "")
        self.pin_screen.open("admin", tr("pin_admin", self._lang), message=message, enabled=source != "none")
        self._go(self.pin_screen)

    def _admin_pin(self):
        try:
            local = self._store.get_meta("local_admin_pin_hash")
            enrolled = self._store.get_meta("token") is not None
        except StoreError:
            local, enrolled = None, True  # cannot tell: the safe side
        return admin_pin(self._config, local, enrolled)

    @Slot(str)
    def _on_pin_entered(self, pin: str) -> None:
        self._poke()
        purpose = self.pin_screen.purpose
        try:
            if purpose == "admin":
                check = self._admin_pin()
                ok = check.source != "none" and self._admin_guard.check(lambda: check.verify(pin))
                guard = self._admin_guard
            elif purpose == "sign_in":
                ok = self.sessions.sign_in(self._pin_officer or "", pin) is not None
                guard = self.sessions.guard
            elif purpose == "sign_out":
                ok = self.sessions.sign_out(pin=pin)
                guard = self.sessions.guard
            else:
                return
        except StoreError as exc:
            self.pin_screen.show_message(str(exc))
            return
        if not ok:
            locked = guard.locked_for()
            self.pin_screen.show_message(tr("pin_locked", self._lang, minutes=max(1, round(locked / 60))) if locked
                                         else tr("pin_wrong", self._lang))
            self.pin_screen.clear()
            self.sig_pin_refused.emit(purpose)
            return
        if purpose == "admin":
            self.open_admin()
        else:
            self.refresh_officer()
            self.show_start()

    def open_admin(self) -> None:
        """Show the admin screen (only after the admin PIN)."""
        self.refresh_admin()
        self.admin_screen.show_result("")
        self._go(self.admin_screen, idle_s=max(ADMIN_IDLE_MIN_S, self.idle_timeout_s * 4))
        self.sig_admin_opened.emit()

    def refresh_admin(self) -> None:
        try:
            status = self._store.status()
            kept = self._store.kept_aside(10)
        except StoreError as exc:
            status, kept = {"last_storage_error": {"message": str(exc), "at": ""}}, []
        if self._store.last_storage_error:
            status["last_storage_error"] = self._store.last_storage_error
        self.admin_screen.show_status(status, kept, roster(self._config), self._session, self.questionnaire.ref,
                                      self._default_lang)

    @Slot()
    def _on_admin_sync(self) -> None:
        self._poke()
        self.admin_screen.show_result(tr("admin_working", self._lang))
        self.sig_sync_requested.emit()

    @Slot(str)
    def _on_admin_test(self, url: str) -> None:
        from kiosk.sync import check_connection

        self._poke()
        try:
            same = url.rstrip("/") == (self._store.get_meta("server_url") or "")
            token = self._store.get_meta("token") if same else None
        except StoreError:
            token = None
        s = self._settings
        self.admin_screen.show_result(tr("admin_working", self._lang))
        self.sig_job_requested.emit("test_connection", functools.partial(
            check_connection, url, token, timeout=(s.connect_timeout_s, s.read_timeout_s), verify=s.verify_tls))

    @Slot(str, str)
    def _on_admin_enrol(self, url: str, code: str) -> None:
        from kiosk.sync import EnrollError, enroll

        self._poke()
        store, timeout = self._store, (self._settings.connect_timeout_s, self._settings.read_timeout_s)

        def job() -> dict:
            try:
                return {"ok": True, **enroll(store, url, code, timeout=timeout)}
            except EnrollError as exc:
                return {"ok": False, "error": str(exc)}

        self.admin_screen.show_result(tr("admin_working", self._lang))
        self.sig_job_requested.emit("enrol", job)

    @Slot()
    def _on_admin_sign_out(self) -> None:
        try:
            self.sessions.sign_out()
        except StoreError as exc:
            self.admin_screen.show_result(str(exc))
        self.refresh_officer()
        self.refresh_admin()

    @Slot(str)
    def _on_default_lang(self, lang: str) -> None:
        try:
            self._store.set_meta(default_lang=lang)
        except StoreError as exc:
            self.admin_screen.show_result(str(exc))
            return
        self._default_lang = lang
        self._apply_lang(lang)
        self.refresh_admin()

    @Slot()
    def request_exit(self) -> None:
        """Close the window for real (only the admin screen offers this)."""
        self._allow_close = True
        self.sig_exit_requested.emit()
        self.close()

    # --- lockdown ----------------------------------------------------------------------------

    def lock_down(self) -> None:
        """Frameless, on top, full-screen: the kiosk mode of :func:`kiosk.app.run`."""
        self.setWindowFlags(self.windowFlags() | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.showFullScreen()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        # Alt+F4 and the window manager's close arrive here: ignored unless the admin chose exit.
        if self._allow_close:
            event.accept()
        else:
            event.ignore()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        # Esc, Ctrl+Q, Ctrl+W…: nothing in the app reacts to keys outside the admin screen's fields.
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        side = max(style.min_touch_px(self), int(min(self.width(), self.height()) * 0.12))
        self.hotspot.setGeometry(0, 0, side, side)
        self.hotspot.raise_()

    # --- language and text size -----------------------------------------------------------------

    @Slot(str)
    def _on_lang_chosen(self, lang: str) -> None:
        if lang in LANGS:
            self._apply_lang(lang)

    def _apply_lang(self, lang: str) -> None:
        self._lang = lang
        self.setWindowTitle(tr("window_title", lang))
        for screen in self.screens():
            screen.set_lang(lang)
        for screen in (self.start_screen, self.after_hours_screen):
            screen.set_toggles(lang, self._large)
        if not (self._config.get("unit") or {}).get("name"):
            for screen in (self.start_screen, self.after_hours_screen):
                screen._unit_name = self.unit_name()
                screen.retranslate()

    @Slot(bool)
    def _apply_large(self, on: bool) -> None:
        self._large = on
        for screen in self.screens():
            screen.set_text_scale(style.LARGE_TEXT if on else 1.0)
        for screen in (self.start_screen, self.after_hours_screen):
            screen.set_toggles(self._lang, on)

    @property
    def lang(self) -> str:
        return self._lang

    # --- the citizen's path ------------------------------------------------------------------

    def current_screen(self) -> QWidget:
        """The screen now shown."""
        return self.stack.currentWidget()

    def _go(self, screen: QWidget, idle_s: float | None = None) -> None:
        self._return_timer.stop()
        self.stack.setCurrentWidget(screen)
        self._idle_timer.setInterval(int((idle_s or self.idle_timeout_s) * 1000))
        self._idle_timer.start()

    @Slot()
    def _poke(self, *_args) -> None:
        """Someone is using the screen: restart the idle countdown."""
        if self._idle_timer.isActive():
            self._idle_timer.start()

    @Slot()
    def show_start(self) -> None:
        """Back to the start (or after-hours) screen, ready for the next citizen.

        The language and text size go back to the kiosk's defaults: the next citizen starts afresh.
        """
        self._return_timer.stop()
        self._idle_timer.stop()
        self._flow = None
        self._draft_id = None
        if self._lang != self._default_lang:
            self._apply_lang(self._default_lang)
        if self._large:
            self._apply_large(False)
        open_now = hours.is_open(self.office_hours, self._clock())
        self.stack.setCurrentWidget(self.start_screen if open_now else self.after_hours_screen)
        self.sig_start_shown.emit()

    def is_after_hours(self) -> bool:
        return self.current_screen() is self.after_hours_screen

    def _officer_group(self, officer_id: str | None) -> str | None:
        """The procedure group (lĩnh vực) of the officer on duty, as the config gives it; else None."""
        if not officer_id:
            return None
        officer = next((o for o in roster(self._config) if o["id"] == officer_id), None)
        group = (officer or {}).get("procedure_group")
        return group if valid_code(group) else None

    @Slot(int)
    def _on_level_chosen(self, value: int) -> None:
        current = self.current_screen()
        if current is not self.start_screen and current is not self.after_hours_screen:
            return  # a late tap from another screen: never a second answer
        flags = [FLAG_AFTER_HOURS] if current is self.after_hours_screen else []
        questionnaire = self.questionnaire
        flow = CitizenFlow(questionnaire, value, ask_criteria=self._settings.ask_criteria)
        try:
            # Read per tap: enrolment may set the unit code while the window is open.
            unit_code = self._store.get_meta("unit_code") or ""
            session = self.refresh_officer()
            officer_id = (session or {}).get("officer_id")
            fields = dict(unit_code=unit_code, questionnaire=questionnaire.ref, answers=dict(flow.answers),
                          officer_id=officer_id, flags=flags, misuse=self.rules, procedure_group=self._officer_group(officer_id))
            if flow.finished:
                record = self._store.record_response(**fields)
            else:
                record = self._store.begin_response(**fields)
        except StoreError as exc:
            self._fail(exc, f"level {value} of {questionnaire.overall.id}")
            return
        if flow.finished:
            self._thank(record)
            return
        self._flow, self._draft_id = flow, record["id"]
        self._show_followup()
        self.sig_answer_started.emit(record["id"])

    def _show_followup(self) -> None:
        flow = self._flow
        self.followup_screen.set_question(self.unit_name(), flow.current, last=flow.remaining() == 0,
                                          selected=flow.answers.get(flow.current.id))
        self._go(self.followup_screen)

    def _update_draft(self, answers: dict) -> bool:
        try:
            self._store.update_draft(self._draft_id, answers)
        except StoreError as exc:
            self._fail(exc, "follow-up answer")
            return False
        self.sig_answer_updated.emit(self._draft_id)
        return True

    @Slot(object)
    def _on_followup_answered(self, value) -> None:
        if self._flow is None or self.current_screen() is not self.followup_screen:
            return
        self._flow.answer(value)
        if self._update_draft(dict(self._flow.answers)):
            self._advance()

    @Slot(list)
    def _on_selection_changed(self, selection: list) -> None:
        if self._flow is None or self._flow.current is None:
            return
        self._poke()
        answers = dict(self._flow.answers)
        if selection:
            answers[self._flow.current.id] = selection
        self._update_draft(answers)

    @Slot()
    def _on_followup_next(self) -> None:
        if self._flow is None or self._flow.current is None:
            return
        selection = [c.option_id for c in self.followup_screen.chips() if c.isChecked()]
        self._flow.answer(selection)
        self._advance()

    @Slot()
    def _on_followup_skip(self) -> None:
        if self._flow is None or self._flow.current is None:
            return
        skipped = self._flow.current.id
        self._flow.skip()
        if any(c.isChecked() for c in self.followup_screen.chips()):
            # Chips were stored as they were tapped; a skip takes them back out.
            answers = {k: v for k, v in self._flow.answers.items() if k != skipped}
            if not self._update_draft(answers):
                return
        self._advance()

    @Slot()
    def _on_followup_finish(self) -> None:
        if self._flow is None:
            return
        self._flow.finish()
        self._complete()

    def _advance(self) -> None:
        if self._flow.finished:
            self._complete()
        else:
            self._show_followup()

    def _complete(self, flags: tuple[str, ...] = ()) -> None:
        draft_id = self._draft_id
        try:
            record = self._store.finalise(draft_id, flags)
            if record is None:  # finalised meanwhile (a sweep): it is stored all the same
                record = self._store.get_record(draft_id)["record"]
        except StoreError as exc:
            self._fail(exc, "finishing an answer")
            return
        self._thank(record)

    def _thank(self, record: dict) -> None:
        self._flow, self._draft_id = None, None
        self.thanks_screen.set_link(self._comment_link(record))
        self._show_for_a_while(self.thanks_screen)
        self.sig_rating_saved.emit(record["id"])

    def _comment_link(self, record: dict) -> str | None:
        """``<server>/s/<unit>?r=<id>``: the phone form adds a comment to this same answer."""
        try:
            server = self._store.get_meta("server_url")
        except StoreError:
            server = None
        if not server or not record.get("unit_code"):
            return None
        return f"{server.rstrip('/')}/s/{record['unit_code']}?r={record['id']}"

    def _fail(self, exc: StoreError, what: str) -> None:
        log.error("answer not stored (%s): %s", what, exc)
        # A draft already committed stays a draft; the sweep finalises it (incomplete) later.
        self._flow, self._draft_id = None, None
        self._show_for_a_while(self.error_screen)
        self.sig_rating_failed.emit(str(exc))

    def _show_for_a_while(self, screen: QWidget) -> None:
        self._idle_timer.stop()
        self.stack.setCurrentWidget(screen)
        self._return_timer.start()

    # --- time -------------------------------------------------------------------------------

    @Slot()
    def _on_idle(self) -> None:
        """Nobody touched the screen for the idle timeout: keep what was answered, start over."""
        draft_id = self._draft_id
        if draft_id is not None:
            try:
                self._store.finalise(draft_id, (FLAG_INCOMPLETE,))
            except StoreError:
                log.exception("could not finalise an abandoned answer; the sweep will")
            self.sig_answer_abandoned.emit(draft_id)
        self.show_start()

    def _sweep_drafts(self, older_than_s: float) -> None:
        try:
            swept = self._store.finalise_stale_drafts(older_than_s, exclude=self._draft_id)
        except StoreError:
            log.exception("could not finalise stale drafts")
            return
        if swept:
            log.info("finalised %d abandoned answer(s) as incomplete", swept)

    @Slot()
    def _on_tick(self) -> None:
        """Now and then: stale drafts, the officer's end of day, office hours opening or closing."""
        self._sweep_drafts(self.idle_timeout_s + 5)
        self.refresh_officer()
        self.after_hours_screen.set_hours_text(hours.describe(self.office_hours, self._clock()))
        current = self.current_screen()
        if current is self.start_screen or current is self.after_hours_screen:
            open_now = hours.is_open(self.office_hours, self._clock())
            wanted = self.start_screen if open_now else self.after_hours_screen
            if wanted is not current:
                self.stack.setCurrentWidget(wanted)
                self.sig_start_shown.emit()

    def tick(self) -> None:
        """Run the periodic checks now (tests and the composition root may call it)."""
        self._on_tick()
