"""The admin screen (behind the corner long-press and the admin PIN), for field IT staff:
enrolment, server and a connection test, sync status, sync now, refresh config, officer roster,
language, exit.

Everything it says comes from :mod:`kiosk.admin_messages` (Qt-free): what happened and what to
do, in the chosen language, with the technical text behind a "Chi tiết" button; times in the
province's zone; the kiosk's human label rather than its UUID. IT staff may plug in a keyboard
(the text fields here are the only place on the kiosk that accepts typing); without one, an
on-screen keyboard types the server address (:mod:`kiosk.ui.keyboard`) and another the
enrolment code. The page scrolls by dragging it with a finger. The screen shows and asks; the
window (composition root) does the work through the one background worker.
"""

from __future__ import annotations

from datetime import tzinfo

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QButtonGroup, QHBoxLayout, QLabel, QLayout, QLineEdit, QScrollArea, QScroller, QScrollerProperties,
                               QSizePolicy, QVBoxLayout, QWidget)

from kiosk import admin_messages as am
from kiosk import tls
from kiosk.clock import province_zone
from kiosk.ui import style
from kiosk.ui.keyboard import CodeKeyboard, UrlKeyboard
from kiosk.ui.keypad import BACKSPACE
from kiosk.ui.screen import Screen
from kiosk.ui.strings import tr
from kiosk.ui.widgets import BigButton

OK_HEX = "#2E6B34"       # a success line: dark green, readable on the light background
PROBLEM_HEX = "#9A3412"  # a problem line: dark orange, as the PIN pad's messages
DETAILS_BG = "#E9EEF4"
ZWSP = "\u200b"          # lets long technical tokens (URLs, class paths) wrap in the details box
MONO_FAMILIES = ("DejaVu Sans Mono", "Noto Sans Mono", "Liberation Mono", "monospace")


def _left(text: str = "", colour: str = style.INK_HEX) -> QLabel:
    lab = style.label(text, colour, align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    # Ignored width: a long line never widens the page; it wraps to the width the page has.
    lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
    return lab


def breakable(text: str) -> str:
    """``text`` with invisible break points after ``/ . , : = ( _ -`` and inside long runs."""
    out, run = [], 0
    for ch in text:
        out.append(ch)
        run = 0 if ch.isspace() else run + 1
        if ch in "/.,:=(_-&?" or run >= 24:
            out.append(ZWSP)
            run = 0
    return "".join(out)


def _tls_worded(message: am.Message | None, raw: str | None, lang: str, note: str = "") -> am.Message | None:
    """A certificate failure in :mod:`kiosk.tls`'s words (which name ``ca_bundle`` and the pin), details kept."""
    if message is None or message.ok:
        return message
    worded = tls.explain(raw, lang)
    if worded is None:
        return message
    return am.Message(worded[0], " ".join(p for p in (worded[1], note) if p), message.details, ok=False, kind=message.kind)


class MessagePanel(QWidget):
    """An optional title line, a headline, guidance, and "Chi tiết" that shows the technical text."""

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.lang = "vi"
        self._details = ""
        self.title_label = _left(colour=style.MUTED)
        self.title_label.setObjectName(f"{name}_title")
        self.headline_label = _left()
        self.headline_label.setObjectName(f"{name}_headline")
        self.guidance_label = _left()
        self.guidance_label.setObjectName(f"{name}_guidance")
        self.details_button = BigButton("", "secondary", checkable=True)
        self.details_button.setObjectName(f"{name}_details_button")
        self.details_label = _left()
        self.details_label.setObjectName(f"{name}_details")
        self.details_label.setStyleSheet(f"color: {style.INK_HEX}; background: {DETAILS_BG}; border: 1px solid #C3CEDB;"
                                         " border-radius: 6px; padding: 8px;")
        self.details_label.setVisible(False)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.title_label)
        col.addWidget(self.headline_label)
        col.addWidget(self.guidance_label)
        row = QHBoxLayout()
        row.addWidget(self.details_button)
        row.addStretch(1)
        col.addLayout(row)
        col.addWidget(self.details_label)
        self._col = col
        self.details_button.toggled.connect(self._on_details)
        self.set_message(None)

    def _on_details(self, on: bool) -> None:
        self.details_label.setVisible(on and bool(self._details))
        self._retext_button()

    def _retext_button(self) -> None:
        self.details_button.setText(tr("admin_hide_details" if self.details_button.isChecked() else "admin_details", self.lang))

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self._retext_button()

    def set_message(self, message: am.Message | None, title: str = "", *, muted: bool = False) -> None:
        """Show ``message`` (None: only the title, if any) under ``title``."""
        headline, guidance, details = message if message is not None else ("", "", "")
        self.title_label.setText(title)
        self.title_label.setVisible(bool(title))
        colour = style.MUTED if muted else (OK_HEX if message is not None and message.ok else PROBLEM_HEX)
        self.headline_label.setStyleSheet(f"color: {colour}; background: transparent;")
        self.headline_label.setText(headline)
        self.headline_label.setVisible(bool(headline))
        self.guidance_label.setText(guidance)
        self.guidance_label.setVisible(bool(guidance))
        self._details = details
        self.details_label.setText(breakable(details))
        self.details_button.setVisible(bool(details))
        if not details:
            self.details_button.setChecked(False)
        self.details_label.setVisible(bool(details) and self.details_button.isChecked())
        self.setVisible(bool(title or headline or guidance))
        self._retext_button()

    def text(self) -> str:
        """Everything the panel shows in words (title, headline, guidance), one line each."""
        return "\n".join(lab.text() for lab in (self.title_label, self.headline_label, self.guidance_label) if lab.text())

    def details_text(self) -> str:
        """The technical text behind "Chi tiết" (shown or not)."""
        return self._details

    def size_to(self, text_px: float, button_h: int, gap: int) -> None:
        self._col.setSpacing(max(2, gap // 2))
        style.set_px(self.title_label, text_px * 0.85, bold=True)
        style.set_px(self.headline_label, text_px, bold=True)
        style.set_px(self.guidance_label, text_px)
        self.details_button.size_to(text_px * 0.85, button_h)
        mono = QFont(self.details_label.font())
        mono.setFamilies(list(MONO_FAMILIES))
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPixelSize(max(12, int(text_px * 0.7)))
        self.details_label.setFont(mono)


class AdminScreen(Screen):
    """IT staff's page. Every action is a signal; :meth:`show_status` fills it in."""

    sig_close = Signal()
    """Fires when "Đóng" is tapped: back to the citizen's start screen."""
    sig_exit = Signal()
    """Fires when "Thoát ứng dụng" is tapped: the only way to quit the kiosk from inside it."""
    sig_sync_now = Signal()
    """Fires when "Đồng bộ ngay" is tapped."""
    sig_refresh_config = Signal()
    """Fires when "Tải lại cấu hình" is tapped."""
    sig_test_connection = Signal(str)
    """Fires when "Kiểm tra kết nối" is tapped; carries the server address typed."""
    sig_enrol = Signal(str, str)
    """Fires when "Đăng ký lại" is tapped; carries the server address and the enrolment code."""
    sig_sign_out_officer = Signal()
    """Fires when the officer on duty is signed out from here."""
    sig_default_lang = Signal(str)
    """Fires when the kiosk's default language is chosen; carries ``vi`` or ``en``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("admin_screen", parent)
        self._enrolled = False
        self._server_dirty = False
        self.title_label = _left()
        self.close_button = BigButton("", "secondary")
        self.close_button.setObjectName("admin_close")
        self.enrol_panel = MessagePanel("admin_enrolment")
        self.enrol_label = self.enrol_panel.headline_label
        self.server_now_label = self.enrol_panel.guidance_label
        self.questionnaire_label = _left()
        self.counts_label = _left()
        self.counts_label.setObjectName("admin_counts")
        self.last_sync_label = _left()
        self.last_sync_label.setObjectName("admin_last_sync")
        self.last_error_panel = MessagePanel("admin_last_error")
        self.storage_error_panel = MessagePanel("admin_storage_error")
        # The panels' first line, by the names older callers know.
        self.last_error_label = self.last_error_panel.headline_label
        self.storage_error_label = self.storage_error_panel.headline_label
        self.sync_button = BigButton("", "primary")
        self.sync_button.setObjectName("admin_sync_now")
        self.refresh_button = BigButton("", "secondary")
        self.refresh_button.setObjectName("admin_refresh")
        self.result_panel = MessagePanel("admin_result")
        self.result_label = self.result_panel.headline_label
        self.kept_title = _left()
        self.kept_panel = MessagePanel("admin_kept")
        self.kept_label = self.kept_panel.guidance_label
        self.server_title = _left()
        self.server_edit = QLineEdit()
        self.server_edit.setObjectName("admin_server")
        self.server_edit.setPlaceholderText("https://hailong.bacninh.gov.vn:8443")
        self.url_keyboard_button = BigButton("", "secondary", checkable=True)
        self.url_keyboard_button.setObjectName("admin_url_keyboard")
        self.test_button = BigButton("", "secondary")
        self.test_button.setObjectName("admin_test")
        self.url_keyboard = UrlKeyboard()
        self.url_keyboard.setVisible(False)
        self.code_title = _left()
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("admin_code")
        self.keyboard_button = BigButton("", "secondary", checkable=True)
        self.keyboard_button.setObjectName("admin_code_keyboard")
        self.enrol_button = BigButton("", "primary")
        self.enrol_button.setObjectName("admin_enrol")
        self.keyboard = CodeKeyboard()
        self.keyboard.setVisible(False)
        self.officers_title = _left()
        self.officers_label = _left()
        self.officers_label.setObjectName("admin_officers")
        self.sign_out_button = BigButton("", "secondary")
        self.sign_out_button.setObjectName("admin_sign_out_officer")
        self.lang_title = _left()
        self.vi_button = BigButton("Tiếng Việt", "secondary", checkable=True)
        self.en_button = BigButton("English", "secondary", checkable=True)
        group = QButtonGroup(self)
        group.addButton(self.vi_button)
        group.addButton(self.en_button)
        self.exit_button = BigButton("", "secondary")
        self.exit_button.setObjectName("admin_exit")
        self._buttons = (self.close_button, self.sync_button, self.refresh_button, self.url_keyboard_button, self.test_button,
                         self.keyboard_button, self.enrol_button, self.sign_out_button, self.vi_button, self.en_button,
                         self.exit_button)
        self._panels = (self.enrol_panel, self.last_error_panel, self.storage_error_panel, self.result_panel, self.kept_panel)

        def row(*widgets, stretch_first=False) -> QHBoxLayout:
            r = QHBoxLayout()
            for i, wdg in enumerate(widgets):
                r.addWidget(wdg, 1 if (stretch_first and i == 0) else 0)
            if not stretch_first:
                r.addStretch(1)
            return r

        inner = QWidget()
        inner.setObjectName("admin_content")
        style.fill(inner, style.BACKGROUND)
        col = QVBoxLayout(inner)
        col.addLayout(row(self.title_label, self.close_button, stretch_first=True))
        for wdg in (self.enrol_panel, self.questionnaire_label, self.counts_label,
                    self.last_sync_label, self.last_error_panel, self.storage_error_panel):
            col.addWidget(wdg)
        col.addLayout(row(self.sync_button, self.refresh_button))
        col.addWidget(self.result_panel)
        col.addWidget(self.kept_title)
        col.addWidget(self.kept_panel)
        col.addWidget(self.server_title)
        col.addLayout(row(self.server_edit, self.url_keyboard_button, self.test_button, stretch_first=True))
        col.addWidget(self.url_keyboard)
        col.addWidget(self.code_title)
        col.addLayout(row(self.code_edit, self.keyboard_button, self.enrol_button, stretch_first=True))
        col.addWidget(self.keyboard)
        col.addWidget(self.officers_title)
        col.addWidget(self.officers_label)
        col.addLayout(row(self.sign_out_button))
        col.addWidget(self.lang_title)
        col.addLayout(row(self.vi_button, self.en_button))
        col.addSpacing(20)
        col.addLayout(row(self.exit_button))
        col.addStretch(1)
        # No minimum height from the layout: it would be the height at the narrowest width (every
        # line wrapped many times) and leave a long empty tail. The scroll area sizes the page
        # from its height for the width it really has.
        col.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        inner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self._col = col
        self._inner = inner
        scroll = QScrollArea()
        scroll.setObjectName("admin_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        self.scroll = scroll
        # Finger scrolling: drag the page itself (taps still reach the buttons).
        QScroller.grabGesture(scroll.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        props = QScroller.scroller(scroll.viewport()).scrollerProperties()
        props.setScrollMetric(QScrollerProperties.ScrollMetric.VerticalOvershootPolicy,
                              QScrollerProperties.OvershootPolicy.OvershootAlwaysOff)
        props.setScrollMetric(QScrollerProperties.ScrollMetric.HorizontalOvershootPolicy,
                              QScrollerProperties.OvershootPolicy.OvershootAlwaysOff)
        # A press reaches the button at once (no 0.5 s delay, no tap swallowed); a drag that
        # follows takes it back from the button and scrolls.
        props.setScrollMetric(QScrollerProperties.ScrollMetric.MousePressEventDelay, 0.0)
        QScroller.scroller(scroll.viewport()).setScrollerProperties(props)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.close_button.clicked.connect(self.sig_close)
        self.exit_button.clicked.connect(self.sig_exit)
        self.sync_button.clicked.connect(self.sig_sync_now)
        self.refresh_button.clicked.connect(self.sig_refresh_config)
        self.test_button.clicked.connect(lambda: self.sig_test_connection.emit(self.server_edit.text().strip()))
        self.enrol_button.clicked.connect(lambda: self.sig_enrol.emit(self.server_edit.text().strip(), self.code_edit.text().strip()))
        self.sign_out_button.clicked.connect(self.sig_sign_out_officer)
        self.vi_button.clicked.connect(lambda: self.sig_default_lang.emit("vi"))
        self.en_button.clicked.connect(lambda: self.sig_default_lang.emit("en"))
        self.keyboard_button.toggled.connect(self._on_code_keyboard)
        self.url_keyboard_button.toggled.connect(self._on_url_keyboard)
        self.keyboard.sig_key.connect(lambda key: self._type(self.code_edit, key))
        self.url_keyboard.sig_key.connect(lambda key: self._type(self.server_edit, key))
        self.server_edit.textEdited.connect(self._on_server_edited)
        for panel in self._panels:
            panel.details_button.toggled.connect(self.settle)
        self.retranslate()

    def settle(self, *_args) -> None:
        """Lay the page out now rather than at the next turn of the event loop.

        Texts change in bulk (a status refresh, a result); until the layouts ran, wrapped
        labels keep their old heights and a grab, or the first paint after opening, would show
        lines cut in half. Pending layout requests are few and cheap: run them here.
        """
        for _ in range(3):  # a layout pass may ask its parent for one more
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        # The first open: the sizes (and fonts) of a hidden screen arrive just before this event.
        super().showEvent(event)
        self.settle()

    # --- typing ------------------------------------------------------------------------------

    def _on_code_keyboard(self, on: bool) -> None:
        self.keyboard.setVisible(on)
        if on:
            self.url_keyboard_button.setChecked(False)
        self.settle()

    def _on_url_keyboard(self, on: bool) -> None:
        self.url_keyboard.setVisible(on)
        if on:
            self.keyboard_button.setChecked(False)
        self.settle()

    def _on_server_edited(self, _text: str = "") -> None:
        self._server_dirty = True  # someone is typing: a status refresh no longer overwrites the field

    @staticmethod
    def _type(edit: QLineEdit, key: str) -> None:
        # insert()/backspace() act at the cursor and emit textEdited, as typing on a keyboard does.
        if key == BACKSPACE:
            edit.backspace()
        else:
            edit.insert(key)

    def reset_fields(self) -> None:
        """Forget what was typed (the screen opens afresh): the address follows the store again."""
        self._server_dirty = False
        self.code_edit.clear()
        self.keyboard_button.setChecked(False)
        self.url_keyboard_button.setChecked(False)
        for panel in self._panels:
            panel.details_button.setChecked(False)
        self.scroll.verticalScrollBar().setValue(0)

    # --- what the page shows -------------------------------------------------------------------

    def show_status(self, status: dict, kept: list[dict], roster: list[dict], session: dict | None,
                    questionnaire_ref: dict, default_lang: str, *, zone: tzinfo | None = None, unit_name: str = "",
                    device_name: str | None = None) -> None:
        """Fill the page from ``Store.status()`` and friends; times are shown in ``zone`` (the province's)."""
        zone = zone or province_zone(None)
        lang = self.lang
        none = self.tr("admin_none")
        when = lambda value: am.local_time(value, zone, lang)  # noqa: E731
        self._enrolled = bool(status.get("enrolled"))
        if self._enrolled:
            # The human label on the page; the full device id only behind "Chi tiết".
            label = am.kiosk_label(device_name, unit_name, status.get("device_id"), lang)
            w = am.WORDS[lang]
            self.enrol_panel.set_message(am.Message(
                self.tr("admin_enrolled", device=label, unit=status.get("unit_code") or none),
                self.tr("admin_server_now", url=status.get("server_url") or none),
                f"{w['device']}: {status.get('device_id') or none}\n{w['where']}: {status.get('server_url') or none}",
                ok=True), muted=False)
        else:
            self.enrol_panel.set_message(am.Message(self.tr("admin_not_enrolled"), self.tr("admin_not_enrolled_hint")))
        self.questionnaire_label.setText(self.tr("admin_questionnaire", id=questionnaire_ref["id"], version=questionnaire_ref["version"]))
        self.counts_label.setText(self.tr("admin_counts", pending=status.get("pending", 0), drafts=status.get("drafts", 0),
                                          kept=status.get("kept_aside", 0), sent=status.get("sent", 0)))
        self.last_sync_label.setText(self.tr("admin_last_sync", when=when(status.get("last_sync_at"))))

        error = _tls_worded(am.describe_error(status.get("last_error"), lang, "sync"), status.get("last_error"), lang,
                            am.text("kept_safe", lang)[1])
        if error is None:
            self.last_error_panel.set_message(None, self.tr("admin_last_error", error=am.WORDS[lang]["none"]))
        else:
            title = self.tr("admin_last_error_title", when=when(status.get("last_error_at")))
            resolved = am.is_later(status.get("last_sync_at"), status.get("last_error_at"))
            if resolved:
                error = am.Message(error.headline, am.text("resolved", lang)[1], error.details, kind=error.kind)
            self.last_error_panel.set_message(error, title, muted=resolved)
        storage = status.get("last_storage_error")
        message = am.describe_storage(storage, lang)
        if message is None:
            self.storage_error_panel.set_message(None, self.tr("admin_storage_error", error=am.WORDS[lang]["none"]))
        else:
            at = storage.get("at") if isinstance(storage, dict) else None
            self.storage_error_panel.set_message(message, self.tr("admin_storage_error_title", when=when(at) if at else none))
        self._show_kept(kept, int(status.get("kept_aside") or len(kept)), when)

        if not self._server_dirty and not self.server_edit.hasFocus():
            self.server_edit.setText(status.get("server_url") or "")
            self.server_edit.setCursorPosition(0)  # show the start of a long address ("https://…")
        on_duty = (session or {}).get("officer_id")
        lines = []
        for o in roster:
            line = o["name"]
            if o["id"] == on_duty:
                line += " " + self.tr("admin_on_duty")
                if session.get("signed_in_at"):
                    line += " · " + self.tr("admin_signed_in_at", when=when(session["signed_in_at"]))
            lines.append(line)
        self.officers_label.setText("\n".join(lines) or none)
        self.sign_out_button.setEnabled(bool(session))
        self.vi_button.setChecked(default_lang == "vi")
        self.en_button.setChecked(default_lang == "en")
        self.enrol_button.setText(self.tr("admin_enrol" if self._enrolled else "admin_enrol_first"))
        self.settle()

    def _show_kept(self, kept: list[dict], total: int, when) -> None:
        if not kept:
            self.kept_panel.set_message(am.Message(self.tr("admin_kept_none"), "", ok=True), muted=True)
            return
        lines = [f"#{k['seq']} · {when(k.get('created_at'))} · {am.kept_reason(k.get('reason'), self.lang)}" for k in kept[:10]]
        if total > len(lines):
            lines.append(self.tr("admin_kept_more", n=total - len(lines)))
        details = "\n".join(f"#{k['seq']} {k.get('id', '')}: {k.get('reason') or ''}" for k in kept[:10])
        self.kept_panel.set_message(am.Message(self.tr("admin_kept_count", n=total), "\n".join(lines) + "\n" + self.tr("admin_kept_hint"),
                                               details))

    def show_message(self, message: am.Message | None) -> None:
        """The outcome of the last action (connection test, enrolment, sync), from :mod:`kiosk.admin_messages`."""
        self.result_panel.set_message(_tls_worded(message, message.details if message else None, self.lang))
        self.settle()

    def show_result(self, text: str) -> None:
        """A plain line as the outcome (e.g. "Đang thực hiện…"); empty clears it."""
        self.result_panel.set_message(am.Message(text, "", ok=True) if text else None, muted=True)
        self.settle()

    # --- language and sizes --------------------------------------------------------------------

    def set_lang(self, lang: str) -> None:
        for panel in self._panels:
            panel.set_lang(lang)
        super().set_lang(lang)

    def retranslate(self) -> None:
        for widget, key in ((self.title_label, "admin_title"), (self.close_button, "admin_close"), (self.sync_button, "admin_sync_now"),
                            (self.refresh_button, "admin_refresh"), (self.server_title, "admin_server"), (self.test_button, "admin_test"),
                            (self.url_keyboard_button, "admin_keyboard"), (self.code_title, "admin_code"),
                            (self.keyboard_button, "admin_keyboard"),
                            (self.enrol_button, "admin_enrol" if self._enrolled else "admin_enrol_first"),
                            (self.kept_title, "admin_kept_title"), (self.officers_title, "admin_officers"),
                            (self.sign_out_button, "admin_sign_out_officer"), (self.lang_title, "admin_language"),
                            (self.exit_button, "admin_exit")):
            widget.setText(self.tr(key))

    def relayout(self) -> None:
        unit = self.unit()
        margin = max(12, int(self.width() * 0.03))
        self._col.setContentsMargins(margin, int(unit * 0.03), margin, int(unit * 0.03))
        gap = int(unit * 0.012)
        self._col.setSpacing(gap)
        text_px = self.px(0.028)
        touch = style.min_touch_px(self)
        bar = touch  # the scrollbar: wide enough to grab with a finger (15 mm)
        self.scroll.setStyleSheet(
            f"QScrollBar:vertical {{ width: {bar}px; background: #E3E9F1; margin: 0; }}"
            f" QScrollBar::handle:vertical {{ background: #9DB3CC; min-height: {touch}px; border-radius: {bar // 4}px;"
            f" margin: 4px; }}"
            " QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical { height: 0; }"
            " QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical { background: none; }")
        style.set_px(self.title_label, self.px(0.045), bold=True)
        for lab in (self.questionnaire_label, self.counts_label, self.last_sync_label, self.officers_label):
            style.set_px(lab, text_px)
        for lab in (self.kept_title, self.server_title, self.code_title, self.officers_title, self.lang_title):
            style.set_px(lab, text_px, bold=True)
        button_h = self.touch(0.075)
        for b in self._buttons:
            b.size_to(text_px, button_h)
        for panel in self._panels:
            panel.size_to(text_px, button_h, gap)
        for edit in (self.server_edit, self.code_edit):
            style.set_px(edit, text_px)
            edit.setFixedHeight(button_h)
        content_w = self.width() - 2 * margin - bar
        for keyboard in (self.url_keyboard, self.keyboard):
            keyboard.size_to(max(touch * 4, content_w), button_h, text_px, gap)
        self.settle()
