"""The follow-up screen: one question after the overall face (the "why" chips, a criterion's faces).

Every follow-up has a visible way out: "Bỏ qua" (skip this question) and "Xong" (done: what was
answered stands). A multiple choice is confirmed with "Tiếp tục"/"Xong"; each chip tap is
reported at once so the window can store it (an idle timeout then keeps it). "Câu 2/3" shows
where the citizen is when there is more than one follow-up.

A grave option (``"grave": true`` in the questionnaire: harassment, unofficial payments) is never
chosen by one tap: its chip asks "Ông/Bà xác nhận phản ánh: «…»?" inside the screen, and only
[Xác nhận] ticks it (and reports the selection); [Không] leaves it as it was.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from hailong_core.questionnaire import Question
from kiosk.ui import style
from kiosk.ui.faces import FaceButton, build_faces
from kiosk.ui.screen import Screen
from kiosk.ui.start import FACE_MM, FACE_WORD_CAP_MM, face_columns, fit_faces, place_faces
from kiosk.ui.widgets import BigButton, Chip


class GraveConfirm(QWidget):
    """The in-screen confirmation of a grave reason: a dimmed screen, a card, [Không] [Xác nhận].

    It covers the whole follow-up screen while shown, so nothing under it can be tapped. Taps in
    its first :attr:`guard_s` seconds are ignored: the second finger of a double-tap on the chip
    must not land on [Xác nhận] (or [Không]) in its place.
    """

    sig_confirmed = Signal()
    """Fires when [Xác nhận] is tapped."""

    sig_declined = Signal()
    """Fires when [Không] is tapped (or the dimmed area around the card)."""

    def __init__(self, parent: QWidget, *, guard_s: float = 0.6, monotonic: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self.setObjectName("grave_confirm")
        self.guard_s = guard_s
        self.monotonic = monotonic
        self._shown_at = float("-inf")
        self.card = QWidget(self)
        self.card.setObjectName("grave_card")
        style.fill(self.card, style.WHITE)
        self.question_label = style.label()
        self.question_label.setObjectName("grave_question")
        self.no_button = BigButton("", "secondary")
        self.no_button.setObjectName("grave_no")
        self.yes_button = BigButton("", "primary")
        self.yes_button.setObjectName("grave_yes")
        buttons = QHBoxLayout()
        buttons.addWidget(self.no_button)
        buttons.addStretch(1)
        buttons.addWidget(self.yes_button)
        col = QVBoxLayout(self.card)
        col.addWidget(self.question_label, 0, Qt.AlignmentFlag.AlignHCenter)
        col.addSpacing(16)
        col.addLayout(buttons)
        self._col, self._buttons = col, buttons
        self.yes_button.clicked.connect(lambda: self._settled() and self.sig_confirmed.emit())
        self.no_button.clicked.connect(lambda: self._settled() and self.sig_declined.emit())
        self.hide()

    def open(self) -> None:
        """Show the card on top of the screen, ignoring taps for :attr:`guard_s` from now."""
        self._shown_at = self.monotonic()
        self.show()
        self.raise_()

    def _settled(self) -> bool:
        return self.monotonic() - self._shown_at >= self.guard_s

    def size_to(self, screen: Screen) -> None:
        w, h = screen.width(), screen.height()
        self.setGeometry(0, 0, w, h)
        unit = screen.unit()
        card_w = int(min(w * 0.86, max(screen.mm(120), unit * 1.0)))
        pad = int(max(screen.mm(6), unit * 0.04))
        style.set_px(self.question_label, screen.px(0.048, 4.2), bold=True)
        style.balance(self.question_label, card_w - 2 * pad)
        button_h = screen.touch(0.10)
        for b in (self.no_button, self.yes_button):
            b.size_to(screen.px(0.036, 3.5), button_h)
            b.setMinimumWidth(int(max(screen.mm(40), unit * 0.30)))
        self._col.setContentsMargins(pad, pad, pad, pad)
        self._col.setSpacing(int(max(screen.mm(4), unit * 0.03)))
        self._buttons.setSpacing(pad)
        hint = self._col.sizeHint()
        card_h = min(h - 2 * pad, hint.height() + 4)
        self.card.setGeometry(int((w - card_w) / 2), int((h - card_h) / 2), card_w, card_h)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        # A tap beside the card is a "no": nothing is reported without the deliberate second step.
        if not self.card.geometry().contains(event.position().toPoint()) and self._settled():
            self.sig_declined.emit()
        event.accept()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        dim = QColor(style.HEADER)
        dim.setAlpha(150)
        p.fillRect(self.rect(), dim)
        p.setPen(QColor(style.BORDER))
        p.drawRect(QRectF(self.card.geometry()).adjusted(-1, -1, 0, 0))
        p.end()


class FollowUpScreen(Screen):
    """Shows one follow-up question: chips for a choice, faces for a scale."""

    sig_answered = Signal(object)
    """Fires when a face (scale) or an option (single choice) is tapped; carries the value."""

    sig_selection_changed = Signal(list)
    """Fires when a chip of a multiple choice is toggled; carries the option ids now chosen, in order."""

    sig_next = Signal()
    """Fires when a multiple choice is confirmed ("Tiếp tục" or "Xong")."""

    sig_skip = Signal()
    """Fires when "Bỏ qua" is tapped: leave this question unanswered and go on."""

    sig_finish = Signal()
    """Fires when "Xong" is tapped on a scale or single choice: stop asking, keep what was answered."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("followup_screen", parent)
        self.fit_any_window()
        self.question: Question | None = None
        self._last = True
        self._unit_name = ""
        self._chips: list[Chip] = []
        self._faces: list[FaceButton] = []
        self._columns = 0
        self._step, self._total = 0, 0
        self._pending: Chip | None = None  # the grave chip waiting for its confirmation

        self.header = QWidget()
        style.fill(self.header, style.HEADER)
        self.unit_label = style.label(colour=style.WHITE)
        self.unit_label.setObjectName("unit_label")
        QVBoxLayout(self.header).addWidget(self.unit_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self.progress_label = style.label(colour=style.ACCENT)
        self.progress_label.setObjectName("progress_label")
        self.progress_label.hide()
        self.question_label = style.label()
        self.question_label.setObjectName("question_label")
        self.hint_label = style.label(colour=style.MUTED)
        self.hint_label.setObjectName("hint_label")
        self._content = QWidget()
        self._grid = QGridLayout(self._content)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self.skip_button = BigButton("", "secondary")
        self.skip_button.setObjectName("skip_button")
        self.done_button = BigButton("", "primary")
        self.done_button.setObjectName("done_button")
        footer = QHBoxLayout()
        footer.addWidget(self.skip_button)
        footer.addStretch(1)
        footer.addWidget(self.done_button)
        self._footer = footer

        body = QVBoxLayout()
        body.addStretch(1)
        body.addWidget(self.progress_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addWidget(self.question_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addWidget(self.hint_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addStretch(1)
        body.addWidget(self._content, 8)
        body.addStretch(1)
        body.addLayout(footer)
        self._body = body
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.header)
        outer.addLayout(body, 1)

        self.confirm = GraveConfirm(self)
        self.confirm.sig_confirmed.connect(self._on_grave_confirmed)
        self.confirm.sig_declined.connect(self._on_grave_declined)
        self.skip_button.clicked.connect(self.sig_skip)
        self.done_button.clicked.connect(self._on_done)

    # --- content ---------------------------------------------------------------------------------

    def chips(self) -> list[Chip]:
        return list(self._chips)

    def faces(self) -> list[FaceButton]:
        return list(self._faces)

    @property
    def confirm_yes_button(self) -> BigButton:
        """[Xác nhận] of the grave confirmation."""
        return self.confirm.yes_button

    @property
    def confirm_no_button(self) -> BigButton:
        """[Không] of the grave confirmation."""
        return self.confirm.no_button

    def confirming(self) -> str | None:
        """The option id whose confirmation is shown now, or None."""
        return self._pending.option_id if self._pending is not None and self.confirm.isVisible() else None

    def set_question(self, unit_name: str, question: Question, *, last: bool, selected: list | None = None,
                     step: int = 0, total: int = 0) -> None:
        """Show ``question``; ``last`` says whether nothing follows it (the button then says "Xong").

        ``step`` of ``total`` (1-based) shows as "Câu 2/3" when ``total`` is more than one.
        """
        self._unit_name = unit_name
        self.question = question
        self._last = last
        self._step, self._total = step, total
        self._close_confirm()
        for w in self._chips + self._faces:
            self._grid.removeWidget(w)
            w.hide()  # gone from the screen now; deleted when the event loop comes round
            w.deleteLater()
        self._chips, self._faces = [], []
        self._columns = 0
        if question.kind == "scale":
            self._faces = build_faces(question.levels, self.lang, self._content)
            for face in self._faces:
                face.clicked.connect(lambda _=False, v=face.value: self.sig_answered.emit(v))
        else:
            chosen = set(selected or [])
            for option in question.options:
                chip = Chip(option.id, option.label.get(self.lang), self._content, grave=option.needs_confirmation)
                chip.setChecked(option.id in chosen)
                if question.kind == "multi":
                    chip.toggled.connect(self._on_chip_toggled)
                chip.sig_needs_confirmation.connect(lambda c=chip: self._ask_grave(c))
                chip.clicked.connect(lambda _=False, c=chip: self._on_chip_clicked(c))
                self._chips.append(chip)
        self._place()
        self.retranslate()
        self.relayout()

    def _place(self) -> None:
        portrait = self.width() < self.height()
        if self._faces:
            columns = face_columns(len(self._faces), portrait)
            if columns != self._columns:
                self._columns = columns
                place_faces(self._grid, self._faces, columns)
        else:
            for chip in self._chips:
                self._grid.removeWidget(chip)
            columns = 1 if portrait else 2
            for i, chip in enumerate(self._chips):
                self._grid.addWidget(chip, i // columns, i % columns)

    def _selection(self) -> list[str]:
        return [c.option_id for c in self._chips if c.isChecked()]

    def _on_chip_toggled(self, _on: bool) -> None:
        self.sig_selection_changed.emit(self._selection())

    def _on_chip_clicked(self, chip: Chip) -> None:
        if chip is self._pending:
            return  # a grave chip waits for its confirmation (Chip.nextCheckState did not tick it)
        if self.question is not None and self.question.kind == "single":
            self.sig_answered.emit(chip.option_id)

    # --- grave reasons ---------------------------------------------------------------------------

    def _ask_grave(self, chip: Chip) -> None:
        self._pending = chip
        self.confirm.question_label.setText(self.tr("grave_confirm", reason=chip.text()))
        self.confirm.size_to(self)
        self.confirm.open()

    def _close_confirm(self) -> None:
        self._pending = None
        self.confirm.hide()

    def _on_grave_confirmed(self) -> None:
        chip = self._pending
        self._close_confirm()
        if chip is None or chip not in self._chips:
            return
        chip.setChecked(True)  # a multiple choice reports the selection through ``toggled``
        if self.question is not None and self.question.kind == "single":
            self.sig_answered.emit(chip.option_id)

    def _on_grave_declined(self) -> None:
        self._close_confirm()

    def _on_done(self) -> None:
        if self.question is not None and self.question.kind == "multi":
            self.sig_next.emit()
        else:
            self.sig_finish.emit()

    # --- text and sizes ------------------------------------------------------------------------

    def retranslate(self) -> None:
        q = self.question
        self.unit_label.setText(self._unit_name)
        self.confirm.yes_button.setText(self.tr("grave_yes"))
        self.confirm.no_button.setText(self.tr("grave_no"))
        if q is None:
            return
        show_progress = self._total > 1 and self._step >= 1
        self.progress_label.setText(self.tr("progress", step=self._step, total=self._total) if show_progress else "")
        self.progress_label.setVisible(show_progress)
        self.question_label.setText(q.text.get(self.lang))
        self.hint_label.setText(self.tr({"multi": "hint_multi", "single": "hint_single"}.get(q.kind, "hint_scale")))
        for chip, option in zip(self._chips, q.options):
            chip.setText(option.label.get(self.lang))
            chip.setAccessibleName(option.label.get(self.lang))
        if self._faces:
            labels = tuple(lv.label.get(self.lang) for lv in q.levels)
            for face, text in zip(self._faces, labels):
                face.setText(text)
                face.row_labels = labels
        if self._pending is not None:
            self.confirm.question_label.setText(self.tr("grave_confirm", reason=self._pending.text()))
        self.skip_button.setText(self.tr("skip"))
        multi_more = q.kind == "multi" and not self._last
        self.done_button.setText(self.tr("next") if multi_more else self.tr("finish"))

    def relayout(self) -> None:
        w, h = self.width(), self.height()
        unit = self.unit()
        portrait = w < h
        margin = int(w * 0.04)
        style.set_px(self.unit_label, self.px(0.030, 3.0, grow=0.5), bold=True)
        self.header.layout().setContentsMargins(margin, int(max(self.mm(1.5), unit * 0.015)), margin, int(max(self.mm(1.5), unit * 0.015)))
        style.balance(self.unit_label, w - 2 * margin)
        style.set_px(self.progress_label, self.px(0.030, 3.0), bold=True)
        style.set_px(self.question_label, self.px(0.066 if portrait else 0.052, 4.5, grow=0.5), bold=True)
        style.set_px(self.hint_label, self.px(0.030, 3.0))
        self._body.setContentsMargins(margin, int(unit * 0.02), margin, int(max(self.mm(3), unit * 0.03)))
        for lab in (self.progress_label, self.question_label, self.hint_label):
            style.balance(lab, w - 2 * margin)
        gap = int(max(self.mm(3), unit * 0.025))
        self._grid.setHorizontalSpacing(gap)
        self._grid.setVerticalSpacing(gap)
        button_h = self.touch(0.10)
        for b in (self.skip_button, self.done_button):
            b.size_to(self.px(0.036, 3.5), button_h)
            b.setMinimumWidth(int(max(self.mm(40), unit * 0.34)))
        # What is left between the question and the buttons is the chips' or faces' room.
        fixed = self.header.sizeHint().height() + button_h + int(unit * 0.02) + int(max(self.mm(3), unit * 0.03))
        fixed += sum(lab.minimumHeight() for lab in (self.progress_label, self.question_label, self.hint_label) if not lab.isHidden())
        room = h - fixed - gap * 2
        if self._chips:
            columns = 1 if portrait else 2
            rows = (len(self._chips) + columns - 1) // columns
            text_px = self.px(0.034, 3.2)
            for chip in self._chips:
                chip.text_px = text_px
                chip.min_text_px = style.cap_px(self, 3.0) * self.text_scale
            probe = style.font_px(self.font(), text_px)
            two_lines = QFontMetricsF(probe).lineSpacing() * 2 / 0.9 + 8
            per_row = (room - gap * (rows - 1)) / max(rows, 1)
            chip_h = int(min(max(unit * 0.13, two_lines), max(per_row, two_lines * 0.75)))
            chip_h = max(chip_h, self.touch(0.09))
            for chip in self._chips:
                chip.setFixedHeight(chip_h)
                chip.update()
        if self._faces:
            self._place()
            columns = face_columns(len(self._faces), portrait)
            wanted = max(self.mm(FACE_MM), unit * 0.17) * self.text_scale
            fit_faces(self._faces, columns=columns, width=w - 2 * margin, height=room, gap=gap, face_px=wanted,
                      label_px=self.px(0.030, FACE_WORD_CAP_MM), label_min_px=style.cap_px(self, FACE_WORD_CAP_MM * 0.9))
        elif self._chips:
            self._place()
        if not self.confirm.isHidden():
            self.confirm.size_to(self)
            self.confirm.raise_()
