"""The start (attract) screen: the unit, the officer on duty, the overall question as big faces.

It is also the quiet after-hours screen (``quiet=True``): "Ngoài giờ làm việc", today's hours, and
smaller faces, since a press outside office hours is still stored (with a flag).
The language and larger-text toggles live here, visible, beside the officer on duty.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QBoxLayout, QButtonGroup, QHBoxLayout, QVBoxLayout, QWidget

from hailong_core.questionnaire import Question
from kiosk.ui import style
from kiosk.ui.faces import FaceButton, build_faces
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import Avatar, BigButton


class DutyStrip(QWidget):
    """The officer on duty (photo and name) with the sign-in button and the VI/EN and text toggles."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        style.fill(self, style.SUBHEADER)
        self.avatar = Avatar()
        self.officer_label = style.label("", style.INK_HEX, align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.officer_label.setObjectName("officer_label")
        self.officer_button = BigButton("", "secondary")
        self.officer_button.setObjectName("officer_button")
        self.vi_button = BigButton("Tiếng Việt", "secondary", checkable=True)
        self.vi_button.setObjectName("lang_vi")
        self.en_button = BigButton("English", "secondary", checkable=True)
        self.en_button.setObjectName("lang_en")
        self.large_button = BigButton("", "secondary", checkable=True)
        self.large_button.setObjectName("large_text")
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.vi_button)
        group.addButton(self.en_button)
        self.vi_button.setChecked(True)

        who = QHBoxLayout()
        who.addWidget(self.avatar)
        who.addWidget(self.officer_label, 1)
        who.addWidget(self.officer_button)
        toggles = QHBoxLayout()
        toggles.addStretch(1)
        toggles.addWidget(self.vi_button)
        toggles.addWidget(self.en_button)
        toggles.addWidget(self.large_button)
        self._rows = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._rows.addLayout(who, 1)
        self._rows.addLayout(toggles)
        self._who, self._toggles = who, toggles

    def set_officer(self, session: dict | None, photo: str | None, on_duty: str, none_text: str) -> None:
        if session:
            self.avatar.set_officer(session.get("name", ""), photo)
            self.avatar.show()
            self.officer_label.setText(f"{on_duty}: {session.get('name', '')}")
        else:
            self.avatar.hide()
            self.officer_label.setText(none_text)

    def size_to(self, screen: Screen) -> None:
        w, h = screen.width(), screen.height()
        portrait = w < h
        self._rows.setDirection(QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight)
        button_h = screen.touch(0.085)
        text_px = screen.px(0.032)
        for b in (self.officer_button, self.vi_button, self.en_button, self.large_button):
            b.size_to(text_px * 0.9, button_h)
        self.avatar.setFixedSize(int(button_h * 1.1), int(button_h * 1.1))
        style.set_px(self.officer_label, text_px, bold=True)
        margin = int(w * 0.03)
        self._rows.setContentsMargins(margin, int(screen.unit() * 0.012), margin, int(screen.unit() * 0.012))
        spacing = int(screen.unit() * 0.015)
        self._rows.setSpacing(spacing)
        self._who.setSpacing(spacing)
        self._toggles.setSpacing(spacing)


class StartScreen(Screen):
    """The unit's name, the officer on duty, the overall question and one face per level."""

    sig_level_chosen = Signal(int)
    """Fires when a citizen taps a face; carries that level's value (1..N, N most satisfied)."""

    sig_lang_chosen = Signal(str)
    """Fires when the VI or EN toggle is tapped; carries ``vi`` or ``en``."""

    sig_large_text = Signal(bool)
    """Fires when the larger-text toggle changes; carries whether it is now on."""

    sig_officer_pressed = Signal()
    """Fires when the officer sign-in (or sign-out) button is tapped."""

    def __init__(self, quiet: bool = False, parent: QWidget | None = None):
        super().__init__("after_hours_screen" if quiet else "start_screen", parent)
        self.quiet = quiet
        self._unit_name = ""
        self._question: Question | None = None
        self._hours_text = ""
        self._session: dict | None = None
        self._photo: str | None = None

        self.header = QWidget()
        style.fill(self.header, style.HEADER)
        self.unit_label = style.label(colour=style.WHITE)
        self.unit_label.setObjectName("unit_label")
        QVBoxLayout(self.header).addWidget(self.unit_label)
        self.duty = DutyStrip()

        self.invite_label = style.label(colour=style.MUTED if not quiet else style.INK_HEX)
        self.invite_label.setObjectName("invite_label")
        self.question_label = style.label()
        self.question_label.setObjectName("question_label")
        self.hint_label = style.label(colour=style.MUTED)

        self._faces: list[FaceButton] = []
        self._faces_row = QHBoxLayout()

        body = QVBoxLayout()
        body.addStretch(2)
        body.addWidget(self.invite_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addSpacing(8)
        body.addWidget(self.question_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addStretch(1)
        if quiet:
            body.addWidget(self.hint_label, 0, Qt.AlignmentFlag.AlignHCenter)
            body.addStretch(1)
        body.addLayout(self._faces_row, 10 if not quiet else 6)
        body.addStretch(1)
        if not quiet:
            body.addWidget(self.hint_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addStretch(2)
        self._body = body

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.header)
        outer.addWidget(self.duty)
        outer.addLayout(body, 1)

        self.duty.vi_button.clicked.connect(lambda: self.sig_lang_chosen.emit("vi"))
        self.duty.en_button.clicked.connect(lambda: self.sig_lang_chosen.emit("en"))
        self.duty.large_button.toggled.connect(self.sig_large_text)
        self.duty.officer_button.clicked.connect(self.sig_officer_pressed)
        self.retranslate()

    def faces(self) -> list[FaceButton]:
        """The face buttons now on screen, least satisfied first."""
        return list(self._faces)

    def set_content(self, unit_name: str, question: Question, lang: str | None = None) -> None:
        """Show ``unit_name`` and the scale ``question``; rebuilds the faces from its levels."""
        if lang is not None:
            self.lang = lang
        self._unit_name = unit_name
        self._question = question
        for face in self._faces:
            self._faces_row.removeWidget(face)
            face.hide()  # gone from the screen now; deleted when the event loop comes round
            face.deleteLater()
        self._faces = build_faces(question.levels, self.lang, self)
        for face in self._faces:
            # A queued tap could outlive a rebuild; bind the value, not the widget.
            face.clicked.connect(lambda _=False, v=face.value: self.sig_level_chosen.emit(v))
            self._faces_row.addWidget(face)
        self.retranslate()
        self.relayout()

    def set_officer(self, session: dict | None, photo: str | None = None) -> None:
        """Show the officer on duty (or that nobody is signed in)."""
        self._session, self._photo = session, photo
        self.duty.set_officer(session, photo, self.tr("officer_on_duty"), self.tr("no_officer"))
        self.duty.officer_button.setText(self.tr("sign_out") if session else self.tr("officer_sign_in"))

    def set_hours_text(self, text: str) -> None:
        """Today's office hours (after-hours screen), e.g. ``07:30–11:30, 13:30–17:00``."""
        self._hours_text = text
        self.retranslate()

    def set_toggles(self, lang: str, large: bool) -> None:
        """Show the toggles' state without emitting their signals."""
        for button, on in ((self.duty.vi_button, lang == "vi"), (self.duty.en_button, lang == "en"), (self.duty.large_button, large)):
            button.blockSignals(True)
            button.setChecked(on)
            button.blockSignals(False)

    def retranslate(self) -> None:
        self.unit_label.setText(self._unit_name)
        if self.quiet:
            self.invite_label.setText(self.tr("after_hours_title"))
            self.question_label.setText(self.tr("after_hours_today", hours=self._hours_text) if self._hours_text
                                        else self.tr("after_hours_closed_today"))
            self.hint_label.setText(self.tr("after_hours_hint"))
        else:
            self.invite_label.setText(self.tr("invite"))
            self.question_label.setText(self._question.text.get(self.lang) if self._question else "")
            self.hint_label.setText(self.tr("tap_hint"))
        if self._question is not None:
            labels = tuple(lv.label.get(self.lang) for lv in self._question.levels)
            for face, text in zip(self._faces, labels):
                face.setText(text)
                face.setAccessibleName(text)
                face.row_labels = labels
                face.update()
        self.duty.large_button.setText(self.tr("large_text"))
        self.set_officer(self._session, self._photo)

    def relayout(self) -> None:
        w = self.width()
        unit = self.unit()
        style.set_px(self.unit_label, self.px(0.036), bold=True)
        margin = int(w * 0.04)
        self.header.layout().setContentsMargins(margin, int(unit * 0.02), margin, int(unit * 0.02))
        self.duty.size_to(self)
        if self.quiet:
            style.set_px(self.invite_label, self.px(0.062), bold=True)
            style.set_px(self.question_label, self.px(0.040))
        else:
            style.set_px(self.invite_label, self.px(0.036))
            style.set_px(self.question_label, self.px(0.056), bold=True)
        style.set_px(self.hint_label, self.px(0.032))
        self._body.setContentsMargins(margin, 0, margin, 0)
        for lab in (self.invite_label, self.question_label, self.hint_label):
            style.balance(lab, w - 2 * margin)
        self._faces_row.setSpacing(int(w * 0.018))
        # Faces as large as the space allows, but no taller than ~half the screen (smaller when quiet).
        tall, wide = (0.30, 0.26) if self.quiet else (0.46, 0.40)
        for face in self._faces:
            face.setMaximumHeight(int(unit * tall))
            face.setMaximumWidth(int(unit * wide))
            face.text_scale = 1.4 if self.text_scale > 1 else 1.0
            face.update()
