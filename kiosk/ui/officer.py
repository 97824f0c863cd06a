"""Officer sign-in and hand-over: the unit's roster as big cards (photo or initial, name, title,
counter).

The officer picks their name here, then enters their PIN on the :class:`kiosk.ui.keypad.PinScreen`.
While someone is on duty their card says "Đang trực · Đăng xuất" and every other card "Nhận ca"
(take over: the new officer's PIN signs the one on duty out and them in, in one step).
Officers never see results on the kiosk: nothing here reads answers.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QAbstractButton, QGridLayout, QHBoxLayout, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from kiosk.session import counter_of
from kiosk.ui import style
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import Avatar, BigButton


class OfficerCard(QAbstractButton):
    """One officer of the roster as a touch card; :attr:`role` is ``sign_in``, ``on_duty`` or ``take_over``."""

    def __init__(self, officer: dict, parent: QWidget | None = None):
        super().__init__(parent)
        self.officer_id = officer["id"]
        self.role = "sign_in"
        self._title = officer.get("title") or ""
        self._counter = counter_of(officer)
        self.setObjectName(f"officer_{officer['id']}")
        self.setText(officer["name"])
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.avatar = Avatar()
        self.avatar.set_officer(officer["name"], officer.get("photo"))
        self.name_label = style.label(officer["name"], align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.title_label = style.label("", style.MUTED, align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.title_label.setObjectName("officer_title")
        self.action_label = style.label("", style.ACCENT, wrap=False, align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.action_label.setObjectName("officer_action")
        text = QVBoxLayout()
        text.addStretch(1)
        text.addWidget(self.name_label)
        text.addWidget(self.title_label)
        text.addStretch(1)
        row = QHBoxLayout(self)
        row.addWidget(self.avatar)
        row.addLayout(text, 1)
        row.addWidget(self.action_label)
        for child in (self.avatar, self.name_label, self.title_label, self.action_label):
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def set_role(self, role: str, tr) -> None:
        """Show ``role`` (``sign_in``, ``on_duty``, ``take_over``) with texts from ``tr(key, **values)``."""
        self.role = role
        details = [self._title] if self._title else []
        if self._counter:
            details.append(tr("officer_counter", counter=self._counter).replace(" ", "\u00a0"))  # never "Quầy" / "3"
        if role == "on_duty":
            details.insert(0, tr("roster_on_duty"))
        self.title_label.setText(" · ".join(details))
        self.title_label.setVisible(bool(details))
        self.action_label.setText({"on_duty": tr("sign_out"), "take_over": tr("roster_take_over")}.get(role, ""))
        self.action_label.setVisible(role != "sign_in")
        self.update()

    def size_to(self, height: int, px: float) -> None:
        self.setFixedHeight(height)
        self.avatar.setFixedSize(int(height * 0.75), int(height * 0.75))
        style.set_px(self.name_label, px, bold=True)
        style.set_px(self.title_label, px * 0.75)
        style.set_px(self.action_label, px * 0.8, bold=True)
        self.layout().setContentsMargins(int(height * 0.12), 0, int(height * 0.12), 0)
        self.layout().setSpacing(int(height * 0.15))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        on_duty = self.role == "on_duty"
        p.setPen(QPen(QColor(style.ACCENT if self.isDown() or on_duty else "#C3CEDB"), 4.0 if on_duty else 2.5))
        p.setBrush(QColor("#E4EEF9" if self.isDown() or on_duty else style.WHITE))
        p.drawRoundedRect(r, self.height() * 0.14, self.height() * 0.14)
        p.end()


class RosterScreen(Screen):
    """"Cán bộ đăng nhập: chọn tên của mình", the cards, and "Quay lại".

    With an officer on duty (:meth:`set_on_duty`) the title becomes the hand-over one and the
    cards say who is on duty ("Đăng xuất") and who may take over ("Nhận ca").
    """

    sig_officer_chosen = Signal(str)
    """Fires when an officer's card is tapped; carries the officer's id (the window decides, by who
    is on duty, whether that is a sign-in, a hand-over or the on-duty officer's sign-out)."""

    sig_back = Signal()
    """Fires when "Quay lại" is tapped."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("roster_screen", parent)
        self.title_label = style.label()
        self.empty_label = style.label(colour=style.MUTED)
        self._cards: list[OfficerCard] = []
        self._on_duty: dict | None = None
        self._inner = QWidget()
        style.fill(self._inner, style.BACKGROUND)
        self._grid = QGridLayout(self._inner)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setStyleSheet("QScrollBar:vertical { width: 28px; }")  # a finger can drag it
        scroll.setWidget(self._inner)
        self.back_button = BigButton("", "secondary")
        self.back_button.setObjectName("back_button")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.empty_label)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.back_button.clicked.connect(self.sig_back)
        self.retranslate()

    def cards(self) -> list[OfficerCard]:
        return list(self._cards)

    def set_roster(self, officers: list[dict]) -> None:
        for card in self._cards:
            self._grid.removeWidget(card)
            card.hide()
            card.deleteLater()
        self._cards = []
        for officer in officers:
            card = OfficerCard(officer, self._inner)
            card.clicked.connect(lambda _=False, oid=officer["id"]: self.sig_officer_chosen.emit(oid))
            self._cards.append(card)
        self.empty_label.setVisible(not officers)
        self._show_roles()
        self.relayout()

    def set_on_duty(self, session: dict | None) -> None:
        """Mark who is on duty (the session, or None): their card signs out, the others take over."""
        self._on_duty = session
        self._show_roles()

    def on_duty_id(self) -> str | None:
        return (self._on_duty or {}).get("officer_id")

    def _show_roles(self) -> None:
        on_duty = self.on_duty_id()
        for card in self._cards:
            role = "sign_in" if on_duty is None else "on_duty" if card.officer_id == on_duty else "take_over"
            card.set_role(role, self.tr)
        if on_duty is None:
            self.title_label.setText(self.tr("roster_title"))
        else:
            self.title_label.setText(self.tr("roster_handover_title", name=(self._on_duty or {}).get("name", "")))

    def retranslate(self) -> None:
        self.empty_label.setText(self.tr("roster_empty"))
        self.back_button.setText(self.tr("back"))
        self._show_roles()

    def relayout(self) -> None:
        w, h = self.width(), self.height()
        unit = self.unit()
        margin = int(w * 0.04)
        self.layout().setContentsMargins(margin, int(unit * 0.04), margin, int(unit * 0.03))
        self.layout().setSpacing(int(unit * 0.025))
        style.set_px(self.title_label, self.px(0.05), bold=True)
        style.set_px(self.empty_label, self.px(0.035))
        columns = 1 if w < h * 0.8 else 2
        for card in self._cards:
            self._grid.removeWidget(card)
        for i, card in enumerate(self._cards):
            card.size_to(self.touch(0.17), self.px(0.036))
            self._grid.addWidget(card, i // columns, i % columns)
        gap = int(unit * 0.02)
        self._grid.setSpacing(gap)
        self.back_button.size_to(self.px(0.034), self.touch(0.1))
        self.back_button.setMinimumWidth(int(unit * 0.3))
