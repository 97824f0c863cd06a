"""The admin screen (behind the corner long-press and the admin PIN): enrolment, server and a
connection test, sync status, sync now, refresh config, officer roster, language, exit.

IT staff may plug in a keyboard: the text fields here accept typing (the only place on the kiosk),
and an on-screen keyboard types enrolment codes without one. The screen shows and asks; the
window (composition root) does the work through the one background worker.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QLineEdit, QScrollArea, QVBoxLayout, QWidget

from kiosk.ui import style
from kiosk.ui.keypad import BACKSPACE, code_keyboard
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import BigButton


def _left(text: str = "", colour: str = style.INK_HEX) -> QLabel:
    lab = style.label(text, colour, align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return lab


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
        self.title_label = _left()
        self.close_button = BigButton("", "secondary")
        self.close_button.setObjectName("admin_close")
        self.enrol_label = _left()
        self.enrol_label.setObjectName("admin_enrolment")
        self.questionnaire_label = _left()
        self.counts_label = _left()
        self.counts_label.setObjectName("admin_counts")
        self.last_sync_label = _left()
        self.last_error_label = _left()
        self.last_error_label.setObjectName("admin_last_error")
        self.storage_error_label = _left()
        self.storage_error_label.setObjectName("admin_storage_error")
        self.kept_title = _left()
        self.kept_label = _left(colour=style.MUTED)
        self.kept_label.setObjectName("admin_kept")
        self.sync_button = BigButton("", "primary")
        self.sync_button.setObjectName("admin_sync_now")
        self.refresh_button = BigButton("", "secondary")
        self.refresh_button.setObjectName("admin_refresh")
        self.server_title = _left()
        self.server_edit = QLineEdit()
        self.server_edit.setObjectName("admin_server")
        self.test_button = BigButton("", "secondary")
        self.test_button.setObjectName("admin_test")
        self.code_title = _left()
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("admin_code")
        self.keyboard_button = BigButton("", "secondary", checkable=True)
        self.enrol_button = BigButton("", "primary")
        self.enrol_button.setObjectName("admin_enrol")
        self.keyboard = code_keyboard()
        self.keyboard.setVisible(False)
        self.result_label = _left(colour=style.ACCENT)
        self.result_label.setObjectName("admin_result")
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

        def row(*widgets, stretch_first=False) -> QHBoxLayout:
            r = QHBoxLayout()
            for i, wdg in enumerate(widgets):
                r.addWidget(wdg, 1 if (stretch_first and i == 0) else 0)
            if not stretch_first:
                r.addStretch(1)
            return r

        inner = QWidget()
        style.fill(inner, style.BACKGROUND)
        col = QVBoxLayout(inner)
        col.addLayout(row(self.title_label, self.close_button, stretch_first=True))
        for lab in (self.enrol_label, self.questionnaire_label, self.counts_label, self.last_sync_label,
                    self.last_error_label, self.storage_error_label):
            col.addWidget(lab)
        col.addLayout(row(self.sync_button, self.refresh_button))
        col.addWidget(self.kept_title)
        col.addWidget(self.kept_label)
        col.addWidget(self.server_title)
        col.addLayout(row(self.server_edit, self.test_button, stretch_first=True))
        col.addWidget(self.code_title)
        col.addLayout(row(self.code_edit, self.keyboard_button, self.enrol_button, stretch_first=True))
        col.addWidget(self.keyboard)
        col.addWidget(self.result_label)
        col.addWidget(self.officers_title)
        col.addWidget(self.officers_label)
        col.addLayout(row(self.sign_out_button))
        col.addWidget(self.lang_title)
        col.addLayout(row(self.vi_button, self.en_button))
        col.addSpacing(20)
        col.addLayout(row(self.exit_button))
        col.addStretch(1)
        self._col = col
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setStyleSheet("QScrollBar:vertical { width: 28px; }")  # a finger can drag it
        scroll.setWidget(inner)
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
        self.keyboard_button.toggled.connect(self.keyboard.setVisible)
        self.keyboard.sig_key.connect(self._on_code_key)
        self.retranslate()

    def _on_code_key(self, key: str) -> None:
        text = self.code_edit.text()
        self.code_edit.setText(text[:-1] if key == BACKSPACE else text + key)

    def show_status(self, status: dict, kept: list[dict], roster: list[dict], session: dict | None,
                    questionnaire_ref: dict, default_lang: str) -> None:
        """Fill the page from ``Store.status()`` and friends."""
        none = self.tr("admin_none")
        if status.get("enrolled"):
            self.enrol_label.setText(self.tr("admin_enrolled", device=status.get("device_id") or none, unit=status.get("unit_code") or none))
        else:
            self.enrol_label.setText(self.tr("admin_not_enrolled"))
        self.questionnaire_label.setText(self.tr("admin_questionnaire", id=questionnaire_ref["id"], version=questionnaire_ref["version"]))
        self.counts_label.setText(self.tr("admin_counts", pending=status.get("pending", 0), drafts=status.get("drafts", 0),
                                          kept=status.get("kept_aside", 0), sent=status.get("sent", 0)))
        self.last_sync_label.setText(self.tr("admin_last_sync", when=status.get("last_sync_at") or none))
        error = status.get("last_error")
        self.last_error_label.setText(self.tr("admin_last_error", error=f"{error} ({status.get('last_error_at')})" if error else none))
        storage = status.get("last_storage_error")
        self.storage_error_label.setText(self.tr("admin_storage_error",
                                                 error=f"{storage['message']} ({storage['at']})" if storage else none))
        self.kept_label.setText("\n".join(f"#{k['seq']} · {k['created_at']} · {k['reason']}" for k in kept[:10]) or none)
        if not self.server_edit.hasFocus():
            self.server_edit.setText(status.get("server_url") or "")
        on_duty = (session or {}).get("officer_id")
        self.officers_label.setText("\n".join(
            f"{o['name']}{' ' + self.tr('admin_on_duty') if o['id'] == on_duty else ''}" for o in roster) or none)
        self.sign_out_button.setEnabled(bool(session))
        self.vi_button.setChecked(default_lang == "vi")
        self.en_button.setChecked(default_lang == "en")

    def show_result(self, text: str) -> None:
        """The outcome of the last action (connection test, enrolment, sync)."""
        self.result_label.setText(text)

    def retranslate(self) -> None:
        for widget, key in ((self.title_label, "admin_title"), (self.close_button, "admin_close"), (self.sync_button, "admin_sync_now"),
                            (self.refresh_button, "admin_refresh"), (self.server_title, "admin_server"), (self.test_button, "admin_test"),
                            (self.code_title, "admin_code"), (self.keyboard_button, "admin_keyboard"), (self.enrol_button, "admin_enrol"),
                            (self.kept_title, "admin_kept_title"), (self.officers_title, "admin_officers"),
                            (self.sign_out_button, "admin_sign_out_officer"), (self.lang_title, "admin_language"),
                            (self.exit_button, "admin_exit")):
            widget.setText(self.tr(key))

    def relayout(self) -> None:
        unit = self.unit()
        margin = int(self.width() * 0.03)
        self._col.setContentsMargins(margin, int(unit * 0.03), margin, int(unit * 0.03))
        self._col.setSpacing(int(unit * 0.012))
        text_px = self.px(0.028)
        style.set_px(self.title_label, self.px(0.045), bold=True)
        for lab in (self.enrol_label, self.questionnaire_label, self.counts_label, self.last_sync_label, self.last_error_label,
                    self.storage_error_label, self.kept_label, self.officers_label, self.result_label):
            style.set_px(lab, text_px)
        for lab in (self.kept_title, self.server_title, self.code_title, self.officers_title, self.lang_title):
            style.set_px(lab, text_px, bold=True)
        button_h = self.touch(0.075)
        for b in (self.close_button, self.sync_button, self.refresh_button, self.test_button, self.keyboard_button,
                  self.enrol_button, self.sign_out_button, self.vi_button, self.en_button, self.exit_button):
            b.size_to(text_px, button_h)
        for edit in (self.server_edit, self.code_edit):
            style.set_px(edit, text_px)
            edit.setFixedHeight(button_h)
        self.keyboard.size_to(self.touch(0.075), text_px, int(unit * 0.01))
