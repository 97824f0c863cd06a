"""The kiosk window: the citizen's path, officer sign-in, the hidden admin screen, and lockdown.

Citizen: start → (tap: commit) → thank-you → start; or start → (tap: commit a draft) → follow-ups
(each answer committed) → (finish: draft made pending) → thank-you → start. A failed commit shows
the polite error screen instead, never a thank-you (contract 1). Walking away mid-way: after the
idle timeout the draft is finalised with flag ``incomplete`` and the start screen returns.

A commit runs on the UI thread: a local SQLite commit takes about a millisecond, and the thank-you
may only show after it. Nothing here waits on the network: sync, connection tests and enrolment
run on the worker (:mod:`kiosk.ui.worker`), requested by signal, answered by slot.

The window asks, then shows: what an answer is (unit, officer, flags, draft or final, the comment
link, the apology) is decided by :class:`kiosk.answering.Answering`, with no Qt; the window keeps
screens, timers and signals. Other rules live in Qt-free modules too: :mod:`kiosk.flow` (which
follow-up comes next), :mod:`kiosk.misuse` (cool-down, bursts), :mod:`kiosk.hours`,
:mod:`kiosk.session` (officer on duty), :mod:`kiosk.pins`, :mod:`kiosk.clock` (the province's
zone for every time rule). Taps in the first ``input_guard_s`` after a screen change are ignored
(:mod:`kiosk.ui.tap_guard`), so a double-tap never answers the next screen.

A receipt scanned on the start screen (issue 14: a USB scanner typing like a keyboard, read by
:mod:`kiosk.ui.scan_filter` with no text field) is handed to
:meth:`kiosk.answering.Answering.attach_dossier`; the start screen then says it was received (or
politely that it was not a receipt), never showing the code, and the next face tap carries it.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from hailong_core.config import kiosk_settings
from hailong_core.questionnaire import Questionnaire
from kiosk import hours, tls
from kiosk.answering import Answering, Step
from kiosk.clock import ProvinceClock
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
from kiosk.ui.tap_guard import TapGuard
from kiosk.ui.widgets import CornerHotspot, ResetBanner

log = logging.getLogger(__name__)

ADMIN_IDLE_MIN_S = 120.0  # the admin screen closes by itself after this long untouched
RESET_WARNING_S = 10.0  # the banner counts down this many seconds before the idle reset
SCAN_NOTICE_S = 8.0  # how long "this is not a receipt" stays before the invitation to scan returns


class _Silent:
    """No voice (tests, a kiosk without audio): every prompt is a no-op."""

    def say(self, prompt: str, lang: str) -> None:
        pass


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

    sig_dossier_scanned = Signal(bool)
    """Fires when a scan on the start screen was read; carries whether its code now waits for
    the next face tap (True) or was refused (False: not a receipt of this unit). Never the code.

    By then the start screen says which.
    """

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
                 clock: Callable[[], datetime] | None = None, monotonic: Callable[[], float] = time.monotonic,
                 voice=None):
        super().__init__(parent)
        self._store = store
        self._settings = settings
        # Sizes in millimetres need the panel's true density (a setting overrides a wrong report).
        style.set_display(self, screen_dpi=settings.screen_dpi, screen_diagonal_in=settings.screen_diagonal_in)
        # Every time rule reads the province's zone from the config, never the device's (kiosk.clock).
        self._clock = clock or ProvinceClock(lambda: self._config)
        self.voice = voice if voice is not None else _Silent()
        self.answering = Answering(store, clock=self._clock, ask_criteria=settings.ask_criteria, monotonic=monotonic)
        self._dossier_scan = False  # the config's dossier_scan: the start screen offers the scan step
        self._default_lang = lang
        self._lang = lang
        self._large = False
        self._allow_close = False
        self._config: dict = {}
        self.questionnaire: Questionnaire | None = None
        self.rules = MisuseRules()
        self.idle_timeout_s = 30.0
        self.office_hours: dict | None = None
        self.sessions = OfficerSessions(store, clock=self._clock)
        self._admin_guard = PinGuard()
        self._session: dict | None = None
        self._pin_officer: str | None = None
        # Issue 12: one guard keyed per officer and "admin", kept in the store (a reboot ends no
        # lock-out); PINs are verified off the UI thread and applied only if the pad still waits.
        from kiosk.ui.pin_check import PinChecker

        self._admin_guard = self.sessions.guard
        self.pin_checker = PinChecker(self)
        self._pin_job: dict | None = None  # the check the pad waits for: ticket, purpose, officer, key, generation
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
        self.tap_guard = TapGuard(self, settings.input_guard_s, monotonic=monotonic)
        self.followup_screen.confirm.guard_s = settings.input_guard_s
        self.reset_banner = ResetBanner(self)
        self.reset_banner.hide()
        self.reset_banner.sig_tapped.connect(self._poke)
        self._countdown_timer = self._timer(1000, self._on_countdown, single=False)
        QApplication.instance().installEventFilter(self.tap_guard)
        from kiosk.ui.scan_filter import ScanFilter

        self.scan_filter = ScanFilter(self, self._scan_accepted, monotonic=monotonic)
        QApplication.instance().installEventFilter(self.scan_filter)
        self._scan_timer = self._timer(30_000, self._on_scan_expired)  # a scan waits no longer than the idle timeout
        self._scan_notice_timer = self._timer(int(SCAN_NOTICE_S * 1000), self._on_scan_notice_done)
        self._cycle_done = True  # the next start screen follows a citizen: invite the next one

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
        self.answering.sweep(self.idle_timeout_s)
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
        self.pin_checker.sig_pin_checked.connect(self._on_pin_checked)
        self.hotspot.sig_long_press.connect(self.open_admin_pin)
        self.scan_filter.sig_scanned.connect(self._on_scanned)
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
        self.stack.currentChanged.connect(self._on_screen_changed)

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
        ctx = self.answering.load()
        config = ctx.config
        self._config = config
        self.questionnaire = ctx.questionnaire
        settings = kiosk_settings(config)
        self.rules: MisuseRules = ctx.rules
        self.idle_timeout_s = float(self._settings.idle_timeout_s or settings["idle_timeout_s"] or 30.0)
        self.office_hours = settings["office_hours"]
        self._dossier_scan = bool(settings["dossier_scan"])
        if not self._dossier_scan:
            self.answering.drop_dossier("scan")
        unit_name = self.unit_name()
        self.start_screen.set_content(unit_name, self.questionnaire.overall)
        self.after_hours_screen.set_content(unit_name, self.questionnaire.overall)
        self.after_hours_screen.set_hours_text(hours.describe(self.office_hours, self._clock()))
        self.roster_screen.set_roster(roster(config))
        if not (self._dossier_scan and self.start_screen.dossier_state in ("attached", "refused")):
            self._show_dossier("hint")  # shown as nothing while the step is off
        self.refresh_officer()

    def unit_name(self) -> str:
        """The header: the site the kiosk stands at (issue 13) and its counter, else the unit's name."""
        site = self._config.get("site") or {}
        name = site.get("name") or (self._config.get("unit") or {}).get("name") or tr("unit_fallback", self._lang)
        counter = site.get("counter_name") or (tr("counter_label", self._lang, code=site["counter"]) if site.get("counter") else "")
        return f"{name} — {counter}" if counter else name

    @Slot(dict)
    def on_sync_finished(self, report: dict) -> None:
        """A sync round ended (see ``SyncWorker.sig_sync_finished``); rebuild on a new config.

        On the admin screen the status is refreshed; the round IT staff asked for ("Đồng bộ
        ngay") is also told in words (:func:`kiosk.admin_messages.describe_sync`).
        """
        from kiosk import admin_messages

        if report.get("config_changed"):
            self.reload_config()
        if self.current_screen() is self.admin_screen:
            status = self.refresh_admin()
            if getattr(self, "_admin_sync_asked", False):
                self._admin_sync_asked = False
                self.admin_screen.show_message(admin_messages.describe_sync(report, self.admin_screen.lang,
                                                                            pending=status.get("pending")))

    @Slot(str, dict)
    def on_job_finished(self, name: str, result: dict) -> None:
        """A worker job ended (connection test, enrolment); tell IT staff what it means and what to do."""
        from kiosk import admin_messages

        lang = self.admin_screen.lang
        if not result.get("ok"):
            log.warning("admin %s failed: %s", name, result.get("message") or result.get("error"))
        if name == "enrol" and result.get("ok"):
            self.reload_config()
            try:
                device_name = self._store.get_meta("device_name")
            except StoreError:
                device_name = None
            label = admin_messages.kiosk_label(device_name, (self._config.get("unit") or {}).get("name"),
                                               result.get("device_id"), lang)
            message = admin_messages.describe_enrol(result, lang, label=label, server=result.get("server_url") or "")
        else:
            message = admin_messages.describe_job(name, result, lang)
        self.admin_screen.show_message(message)
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
        photo, officer = None, {}
        if session:
            officer = next((o for o in roster(self._config) if o["id"] == session["officer_id"]), {})
            photo = officer.get("photo")
        changed = (session or {}).get("officer_id") != (self._session or {}).get("officer_id")
        self._session = session
        self.answering.set_session(session)
        for screen in (self.start_screen, self.after_hours_screen):
            screen.set_officer(session, photo, officer=officer or None)
        if changed:
            self.sig_officer_changed.emit(session)
        return session

    def officer_on_duty(self) -> dict | None:
        return self._session

    @Slot()
    def _on_officer_pressed(self) -> None:
        # Always the roster: with someone on duty it offers their sign-out and, to everyone else,
        # a one-step hand-over (lunch, a change of shift).
        self.roster_screen.set_on_duty(self.refresh_officer())
        self._go(self.roster_screen)

    @Slot(str)
    def _on_officer_chosen(self, officer_id: str) -> None:
        officer = next((o for o in roster(self._config) if o["id"] == officer_id), None)
        if officer is None:
            return
        session = self.refresh_officer()
        on_duty = (session or {}).get("officer_id")
        name = officer["name"]
        if on_duty == officer_id:
            purpose, title = "sign_out", tr("pin_sign_out", self._lang, name=name)
        elif on_duty:
            purpose, title = "hand_over", tr("pin_take_over", self._lang, name=name, previous=session.get("name", ""))
        else:
            purpose, title = "sign_in", tr("pin_for", self._lang, name=name)
        self._pin_officer = officer_id
        try:
            check = self.sessions.pin_check(officer_id)
        except StoreError:
            check = None
        self.pin_screen.open(purpose, title, officer=officer, message=self._pin_locked_text(check.key if check else None))
        self._go(self.pin_screen)

    # --- PIN pad and admin -----------------------------------------------------------------------

    @Slot()
    def open_admin_pin(self) -> None:
        """The hidden gesture happened: ask for the admin PIN (or say none is set, or it is locked)."""
        if self.answering.in_progress:
            return  # never over a citizen's answer
        admin = self._admin_pin()
        source = admin.source
        message = {"none": tr("admin_no_pin", self._lang), "default": tr("admin_default_pin", self._lang)}.get(source, "")
        message = self._pin_locked_text(admin.check().key) or message
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
        """OK on the pad: start the PIN check off the UI thread; :meth:`_on_pin_checked` applies it."""
        self._poke()
        screen = self.pin_screen
        job = self._pin_job
        if screen.checking or (job is not None and job["generation"] == screen.generation):
            return  # this pad's PIN is being checked: a second OK waits for the answer
        purpose = screen.purpose
        try:
            check = self._pin_check_for(purpose)
        except StoreError as exc:
            screen.show_message(str(exc))
            return
        if check is None:  # the officer left the roster meanwhile, or no admin PIN is set
            self._pin_refused(purpose, None)
            return
        if self.sessions.guard.locked_for(check.key) > 0:
            self._pin_refused(purpose, check.key)  # locked: refused without spending half a second
            return
        ticket = self.pin_checker.submit(check, pin)
        self._pin_job = {"ticket": ticket, "purpose": purpose, "officer_id": self._pin_officer, "key": check.key,
                         "generation": screen.generation}
        screen.set_checking(True, tr("pin_checking", self._lang))

    def _pin_check_for(self, purpose: str):
        """The :class:`kiosk.pins.PinCheck` the pad's ``purpose`` needs, or None."""
        if purpose == "admin":
            admin = self._admin_pin()
            return admin.check() if admin.source != "none" else None
        if purpose in ("sign_in", "hand_over", "sign_out"):
            return self.sessions.pin_check(self._pin_officer)
        return None

    @Slot(int, object)
    def _on_pin_checked(self, ticket: int, verdict) -> None:
        """A PIN check ended (``PinChecker.sig_pin_checked``): apply it if the pad still waits for it.

        A stale result (the idle reset, "Huỷ" or another opening came first) opens nothing and
        signs no one in or out; a wrong PIN in it still counts towards that key's lock-out.
        """
        job = self._pin_job
        mine = job is not None and job["ticket"] == ticket
        if mine:
            self._pin_job = None
        if not (mine and job["generation"] == self.pin_screen.generation and self.current_screen() is self.pin_screen):
            self.sessions.guard.admit(verdict)
            log.info("PIN result for %s ignored: the pad moved on", verdict.key)
            return
        purpose, officer_id = job["purpose"], job["officer_id"]
        try:
            if purpose == "admin":
                ok = verdict.key == job["key"] and self.sessions.guard.admit(verdict)
            elif purpose in ("sign_in", "hand_over"):
                ok = self.sessions.hand_over(officer_id or "", verdict) is not None
            else:
                ok = self.sessions.sign_out(officer_id, pin=verdict)
        except StoreError as exc:
            self.pin_screen.set_checking(False, str(exc))
            return
        if not ok:
            self._pin_refused(purpose, verdict.key)
            return
        self.pin_screen.set_checking(False)
        if purpose == "admin":
            self.open_admin()
        else:
            self.refresh_officer()
            self.show_start()

    def _pin_refused(self, purpose: str, key: str | None) -> None:
        self.pin_screen.set_checking(False, self._pin_locked_text(key) or tr("pin_wrong", self._lang))
        self.pin_screen.clear()
        self.sig_pin_refused.emit(purpose)

    def _pin_locked_text(self, key: str | None) -> str:
        """"Thử lại sau N phút" while ``key`` is locked, else ""."""
        locked = self.sessions.guard.locked_for(key) if key else 0.0
        return tr("pin_locked", self._lang, minutes=max(1, -int(-locked // 60))) if locked > 0 else ""

    def open_admin(self) -> None:
        """Show the admin screen (only after the admin PIN), afresh: nothing typed, nothing open."""
        self.admin_screen.reset_fields()
        self.refresh_admin()
        self.admin_screen.show_result("")
        self._go(self.admin_screen, idle_s=max(ADMIN_IDLE_MIN_S, self.idle_timeout_s * 4))
        self.sig_admin_opened.emit()

    def refresh_admin(self) -> dict:
        """Fill the admin screen from the store (times in the province's zone); return the status."""
        from kiosk.clock import province_zone

        try:
            status = self._store.status()
            kept = self._store.kept_aside(10)
            device_name = self._store.get_meta("device_name")  # the server's name for the kiosk, when one was kept
        except StoreError as exc:
            status, kept, device_name = {"last_storage_error": {"message": str(exc), "at": ""}}, [], None
        if self._store.last_storage_error:
            status["last_storage_error"] = self._store.last_storage_error
        self.admin_screen.show_status(status, kept, roster(self._config), self._session, self.questionnaire.ref,
                                      self._default_lang, zone=province_zone(self._config),
                                      unit_name=(self._config.get("unit") or {}).get("name") or "", device_name=device_name)
        return status

    @Slot()
    def _on_admin_sync(self) -> None:
        self._poke()
        self._admin_sync_asked = True  # on_sync_finished tells the outcome of this round in words
        self.admin_screen.show_result(tr("admin_working", self.admin_screen.lang))
        self.sig_sync_requested.emit()

    @Slot(str)
    def _on_admin_test(self, url: str) -> None:
        from kiosk.sync import check_connection

        self._poke()
        url = url.strip()
        try:
            same = url.rstrip("/") == (self._store.get_meta("server_url") or "")
            token = self._store.get_meta("token") if same else None
        except StoreError:
            token = None
        s = self._settings
        self.admin_screen.show_result(tr("admin_working", self.admin_screen.lang))
        self.sig_job_requested.emit("test_connection", functools.partial(
            check_connection, url, token, timeout=(s.connect_timeout_s, s.read_timeout_s), verify=s.verify_tls,
            session=tls.session_for(s)))

    @Slot(str, str)
    def _on_admin_enrol(self, url: str, code: str) -> None:
        from kiosk import admin_messages
        from kiosk.sync import SyncError, enroll

        self._poke()
        url, code = url.strip().rstrip("/"), code.strip()
        lang = self.admin_screen.lang
        # Checked here, before any network: what staff typed is wrong, say so at once.
        if not url.startswith(("http://", "https://")):
            self.admin_screen.show_message(admin_messages.describe_enrol({"ok": False, "kind": "address_invalid"}, lang))
            return
        if not code:
            self.admin_screen.show_message(admin_messages.describe_enrol({"ok": False, "kind": "code_missing"}, lang))
            return
        store, timeout = self._store, (self._settings.connect_timeout_s, self._settings.read_timeout_s)

        def job() -> dict:
            # The token stays in the store: the result (shown, logged) never carries it.
            try:
                data = enroll(store, url, code, timeout=timeout, session=tls.session_for(self._settings))
                has_config = store.get_meta("config") is not None
            except (SyncError, StoreError) as exc:
                return {"ok": False, "error": str(exc), "error_class": admin_messages.exception_chain(exc)}
            return {"ok": True, "device_id": data["device_id"], "unit_code": data["unit_code"], "server_url": url,
                    "config": has_config}

        self.admin_screen.show_result(tr("admin_working", lang))
        self.sig_job_requested.emit("enrol", job)

    @Slot()
    def _on_admin_sign_out(self) -> None:
        from kiosk import admin_messages

        try:
            self.sessions.sign_out()
        except StoreError as exc:
            self.admin_screen.show_message(admin_messages.describe_storage(str(exc), self.admin_screen.lang))
        self.refresh_officer()
        self.refresh_admin()

    @Slot(str)
    def _on_default_lang(self, lang: str) -> None:
        from kiosk import admin_messages

        try:
            self._store.set_meta(default_lang=lang)
        except StoreError as exc:
            self.admin_screen.show_message(admin_messages.describe_storage(str(exc), self.admin_screen.lang))
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
        """Frameless, on top, full-screen: the kiosk mode of :func:`kiosk.app.run`.

        With any window manager or none: on bare X (no window manager to honour the full-screen
        request) the window would keep its own size (894×396 was seen), so it is also placed
        over the whole screen explicitly, now and whenever the screen changes size (rotation).
        """
        self.setWindowFlags(self.windowFlags() | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            self.setGeometry(screen.geometry())
            screen.geometryChanged.connect(self._cover_screen)
        self.showFullScreen()
        self._cover_screen()

    @Slot()
    def _cover_screen(self, *_args) -> None:
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None and self.geometry() != screen.geometry():
            self.setGeometry(screen.geometry())

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
            self._say("invitation")  # in the language just chosen

    def _apply_lang(self, lang: str) -> None:
        self._lang = lang
        self.setWindowTitle(tr("window_title", lang))
        for screen in self.screens():
            screen.set_lang(lang)
        for screen in (self.start_screen, self.after_hours_screen):
            screen.set_toggles(lang, self._large)
        for screen in (self.start_screen, self.after_hours_screen):  # "Quầy 2" / "Counter 2" follows the language
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
        self._countdown_timer.start()
        self.reset_banner.hide()

    @Slot()
    def _poke(self, *_args) -> None:
        """Someone is using the screen: restart the idle countdown."""
        if self._idle_timer.isActive():
            self._idle_timer.start()
            self.reset_banner.hide()

    def _stop_idle(self) -> None:
        self._idle_timer.stop()
        self._countdown_timer.stop()
        self.reset_banner.hide()

    @Slot()
    def _on_countdown(self) -> None:
        """The last seconds before the idle reset: say so, so a slow reader can keep going."""
        left = self._idle_timer.remainingTime() / 1000 if self._idle_timer.isActive() else -1
        warn = min(RESET_WARNING_S, self._idle_timer.interval() / 3000)
        # Half a tick of slack: the countdown ticks each second and may land just after the mark.
        if 0 < left <= warn + 0.5 and self.current_screen() is not self.admin_screen:
            self.reset_banner.show_seconds(max(1, round(left)), self._lang)
            self.reset_banner.raise_()
        else:
            self.reset_banner.hide()

    @Slot(int)
    def _on_screen_changed(self, index: int) -> None:
        self.tap_guard.arm()  # the finger that changed the screen must not also answer the next one
        self.sig_screen_changed.emit(self.stack.widget(index).objectName())

    @Slot()
    def show_start(self) -> None:
        """Back to the start (or after-hours) screen, ready for the next citizen.

        The language and text size go back to the kiosk's defaults: the next citizen starts afresh.
        """
        self._return_timer.stop()
        self._stop_idle()
        self.answering.forget()
        self._end_scan()  # a scan belongs to the citizen who made it: the next one starts without it
        if self._lang != self._default_lang:
            self._apply_lang(self._default_lang)
        if self._large:
            self._apply_large(False)
        open_now = hours.is_open(self.office_hours, self._clock())
        self.stack.setCurrentWidget(self.start_screen if open_now else self.after_hours_screen)
        if self._cycle_done and open_now:
            self._say("invitation")
        self._cycle_done = False
        self.sig_start_shown.emit()

    def is_after_hours(self) -> bool:
        return self.current_screen() is self.after_hours_screen

    def _say(self, prompt: str) -> None:
        try:
            self.voice.say(prompt, self._lang)
        except Exception:  # noqa: BLE001 - a prompt must never stop a citizen's answer
            log.exception("voice prompt %s failed", prompt)

    @Slot(int)
    def _on_level_chosen(self, value: int) -> None:
        current = self.current_screen()
        if current is not self.start_screen and current is not self.after_hours_screen:
            return  # a late tap from another screen: never a second answer
        self._scan_timer.stop()
        self._scan_notice_timer.stop()
        step = self.answering.tap(value, after_hours=current is self.after_hours_screen)
        self._show_step(step)
        if step.kind == "followup":
            self.sig_answer_started.emit(self.answering.draft_id)

    # --- a receipt scanned on the start screen (issue 14) -----------------------------------------

    def _scan_accepted(self) -> bool:
        """The scan filter reads keys now: the step is on and a start screen waits for a citizen."""
        current = self.current_screen()
        return self._dossier_scan and (current is self.start_screen or current is self.after_hours_screen)

    def _show_dossier(self, state: str | None) -> None:
        shown = state if self._dossier_scan else None
        for screen in (self.start_screen, self.after_hours_screen):
            screen.set_dossier(shown)

    @Slot(str)
    def _on_scanned(self, text: str) -> None:
        """A scanner's keystrokes ended: the logic checks the code; the screen says only what became of it."""
        from kiosk.dossier_scan import code_from_scan

        if not self._scan_accepted():
            return
        step = self.answering.attach_dossier(code_from_scan(text), "scan", hold_s=self.idle_timeout_s)
        attached = step.kind == "dossier_attached"
        self._scan_notice_timer.stop()
        if attached:
            self._show_dossier("attached")
            self._scan_timer.setInterval(int(self.idle_timeout_s * 1000))
            self._scan_timer.start()
        else:
            self._scan_timer.stop()
            self._show_dossier("refused")
            self._scan_notice_timer.start()
        self.sig_dossier_scanned.emit(attached)

    @Slot()
    def _on_scan_expired(self) -> None:
        """Nobody tapped a face within the idle timeout after a scan: its code is dropped."""
        self._end_scan()

    @Slot()
    def _on_scan_notice_done(self) -> None:
        if self.start_screen.dossier_state == "refused":
            self._show_dossier("hint")

    def _end_scan(self) -> None:
        self._scan_timer.stop()
        self._scan_notice_timer.stop()
        self.answering.drop_dossier("scan")
        self.scan_filter.accumulator.reset()
        self._show_dossier("hint")

    def _show_step(self, step: Step, *, updated: str | None = None) -> None:
        """Show what the answer's logic said comes next; ``updated`` is the draft a follow-up changed."""
        if step.kind == "error":
            self._cycle_done = True
            self._show_for_a_while(self.error_screen)
            self.sig_rating_failed.emit(step.error or "")
            return
        if updated is not None:
            self.sig_answer_updated.emit(updated)
        if step.kind == "followup":
            first = step.step == 1
            self.followup_screen.set_question(self.unit_name(), step.question, last=step.step >= step.total,
                                              selected=step.selected, step=step.step, total=step.total)
            self._go(self.followup_screen)
            if first:
                self._say("question")
        elif step.kind == "thanks":
            self._cycle_done = True
            self.thanks_screen.set_thanks(step.link, apology=step.apology, hotline=step.hotline)
            self._show_for_a_while(self.thanks_screen)
            self._say("apology" if step.apology else "thanks")
            self.sig_rating_saved.emit(step.record["id"])

    def _on_followup_screen(self) -> bool:
        return self.answering.in_progress and self.current_screen() is self.followup_screen

    @Slot(object)
    def _on_followup_answered(self, value) -> None:
        if not self._on_followup_screen():
            return
        draft = self.answering.draft_id
        self._show_step(self.answering.answer(value), updated=draft)

    @Slot(list)
    def _on_selection_changed(self, selection: list) -> None:
        if not self._on_followup_screen():
            return
        self._poke()
        draft = self.answering.draft_id
        step = self.answering.select(selection)
        if step is not None:
            self._show_step(step)
        else:
            self.sig_answer_updated.emit(draft)

    @Slot()
    def _on_followup_next(self) -> None:
        if not self._on_followup_screen():
            return
        draft = self.answering.draft_id
        selection = [c.option_id for c in self.followup_screen.chips() if c.isChecked()]
        self._show_step(self.answering.next(selection), updated=draft)

    @Slot()
    def _on_followup_skip(self) -> None:
        if not self._on_followup_screen():
            return
        stored = any(c.isChecked() for c in self.followup_screen.chips())  # chips were stored as tapped
        self._show_step(self.answering.skip(stored_selection=stored))

    @Slot()
    def _on_followup_finish(self) -> None:
        if not self._on_followup_screen():
            return
        self._show_step(self.answering.finish())

    def _show_for_a_while(self, screen: QWidget) -> None:
        self._stop_idle()
        self.stack.setCurrentWidget(screen)
        self._return_timer.start()

    # --- time -------------------------------------------------------------------------------

    @Slot()
    def _on_idle(self) -> None:
        """Nobody touched the screen for the idle timeout: keep what was answered, start over."""
        draft_id = self.answering.walk_away()
        if draft_id is not None:
            self._cycle_done = True
            self.sig_answer_abandoned.emit(draft_id)
        self.show_start()

    @Slot()
    def _on_tick(self) -> None:
        """Now and then: stale drafts, the officer's end of day, office hours opening or closing."""
        self.answering.sweep(self.idle_timeout_s + 5)
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
