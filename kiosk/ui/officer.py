"""Officer sign-in: the unit's roster as big cards (photo or initial, name, title).

The officer picks their name here, then enters their PIN on the :class:`kiosk.ui.keypad.PinScreen`.
Officers never see results on the kiosk: nothing here reads answers.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QAbstractButton, QGridLayout, QHBoxLayout, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from kiosk.ui import style
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import Avatar, BigButton


class OfficerCard(QAbstractButton):
    """One officer of the roster as a touch card."""

    def __init__(self, officer: dict, parent: QWidget | None = None):
        super().__init__(parent)
        self.officer_id = officer["id"]
        self.setObjectName(f"officer_{officer['id']}")
        self.setText(officer["name"])
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.avatar = Avatar()
        self.avatar.set_officer(officer["name"], officer.get("photo"))
        self.name_label = style.label(officer["name"], align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.title_label = style.label(officer.get("title") or "", style.MUTED, align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.title_label.setVisible(bool(officer.get("title")))
        text = QVBoxLayout()
        text.addStretch(1)
        text.addWidget(self.name_label)
        text.addWidget(self.title_label)
        text.addStretch(1)
        row = QHBoxLayout(self)
        row.addWidget(self.avatar)
        row.addLayout(text, 1)
        for child in (self.avatar, self.name_label, self.title_label):
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def size_to(self, height: int, px: float) -> None:
        self.setFixedHeight(height)
        self.avatar.setFixedSize(int(height * 0.75), int(height * 0.75))
        style.set_px(self.name_label, px, bold=True)
        style.set_px(self.title_label, px * 0.75)
        self.layout().setContentsMargins(int(height * 0.12), 0, int(height * 0.12), 0)
        self.layout().setSpacing(int(height * 0.15))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        p.setPen(QPen(QColor(style.ACCENT if self.isDown() else "#C3CEDB"), 2.5))
        p.setBrush(QColor("#E4EEF9" if self.isDown() else style.WHITE))
        p.drawRoundedRect(r, self.height() * 0.14, self.height() * 0.14)
        p.end()


class RosterScreen(Screen):
    """"Cán bộ đăng nhập: chọn tên của mình", the cards, and "Quay lại"."""

    sig_officer_chosen = Signal(str)
    """Fires when an officer's card is tapped; carries the officer's id."""

    sig_back = Signal()
    """Fires when "Quay lại" is tapped."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("roster_screen", parent)
        self.title_label = style.label()
        self.empty_label = style.label(colour=style.MUTED)
        self._cards: list[OfficerCard] = []
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
        self.relayout()

    def retranslate(self) -> None:
        self.title_label.setText(self.tr("roster_title"))
        self.empty_label.setText(self.tr("roster_empty"))
        self.back_button.setText(self.tr("back"))

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
