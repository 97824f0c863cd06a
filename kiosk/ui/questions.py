"""The follow-up screen: one question after the overall face (the "why" chips, a criterion's faces).

Every follow-up has a visible way out: "Bỏ qua" (skip this question) and "Xong" (done: what was
answered stands). A multiple choice is confirmed with "Tiếp tục"/"Xong"; each chip tap is
reported at once so the window can store it (an idle timeout then keeps it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from hailong_core.questionnaire import Question
from kiosk.ui import style
from kiosk.ui.faces import FaceButton, build_faces
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import BigButton, Chip


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
        self.question: Question | None = None
        self._last = True
        self._unit_name = ""
        self._chips: list[Chip] = []
        self._faces: list[FaceButton] = []

        self.header = QWidget()
        style.fill(self.header, style.HEADER)
        self.unit_label = style.label(colour=style.WHITE)
        QVBoxLayout(self.header).addWidget(self.unit_label)
        self.question_label = style.label()
        self.question_label.setObjectName("question_label")
        self.hint_label = style.label(colour=style.MUTED)
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

        self.skip_button.clicked.connect(self.sig_skip)
        self.done_button.clicked.connect(self._on_done)

    # --- content ---------------------------------------------------------------------------------

    def chips(self) -> list[Chip]:
        return list(self._chips)

    def faces(self) -> list[FaceButton]:
        return list(self._faces)

    def set_question(self, unit_name: str, question: Question, *, last: bool, selected: list | None = None) -> None:
        """Show ``question``; ``last`` says whether nothing follows it (the button then says "Xong")."""
        self._unit_name = unit_name
        self.question = question
        self._last = last
        for w in self._chips + self._faces:
            self._grid.removeWidget(w)
            w.hide()  # gone from the screen now; deleted when the event loop comes round
            w.deleteLater()
        self._chips, self._faces = [], []
        if question.kind == "scale":
            self._faces = build_faces(question.levels, self.lang, self._content)
            for face in self._faces:
                face.clicked.connect(lambda _=False, v=face.value: self.sig_answered.emit(v))
        else:
            chosen = set(selected or [])
            for option in question.options:
                chip = Chip(option.id, option.label.get(self.lang), self._content)
                chip.setChecked(option.id in chosen)
                if question.kind == "multi":
                    chip.toggled.connect(self._on_chip_toggled)
                else:
                    chip.clicked.connect(lambda _=False, oid=option.id: self.sig_answered.emit(oid))
                self._chips.append(chip)
        self._place()
        self.retranslate()
        self.relayout()

    def _place(self) -> None:
        portrait = self.width() < self.height()
        if self._faces:
            for i, face in enumerate(self._faces):
                self._grid.addWidget(face, 0, i)
        else:
            columns = 1 if portrait else 2
            for i, chip in enumerate(self._chips):
                self._grid.addWidget(chip, i // columns, i % columns)

    def _selection(self) -> list[str]:
        return [c.option_id for c in self._chips if c.isChecked()]

    def _on_chip_toggled(self, _on: bool) -> None:
        self.sig_selection_changed.emit(self._selection())

    def _on_done(self) -> None:
        if self.question is not None and self.question.kind == "multi":
            self.sig_next.emit()
        else:
            self.sig_finish.emit()

    # --- text and sizes ------------------------------------------------------------------------

    def retranslate(self) -> None:
        q = self.question
        self.unit_label.setText(self._unit_name)
        if q is None:
            return
        self.question_label.setText(q.text.get(self.lang))
        self.hint_label.setText(self.tr({"multi": "hint_multi", "single": "hint_single"}.get(q.kind, "hint_scale")))
        for chip, option in zip(self._chips, q.options):
            chip.setText(option.label.get(self.lang))
        if self._faces:
            labels = tuple(lv.label.get(self.lang) for lv in q.levels)
            for face, text in zip(self._faces, labels):
                face.setText(text)
                face.row_labels = labels
        self.skip_button.setText(self.tr("skip"))
        multi_more = q.kind == "multi" and not self._last
        self.done_button.setText(self.tr("next") if multi_more else self.tr("finish"))

    def relayout(self) -> None:
        w, h = self.width(), self.height()
        unit = self.unit()
        margin = int(w * 0.04)
        style.set_px(self.unit_label, self.px(0.030), bold=True)
        self.header.layout().setContentsMargins(margin, int(unit * 0.015), margin, int(unit * 0.015))
        style.set_px(self.question_label, self.px(0.052), bold=True)
        style.set_px(self.hint_label, self.px(0.030))
        self._body.setContentsMargins(margin, int(unit * 0.02), margin, int(unit * 0.03))
        for lab in (self.question_label, self.hint_label):
            style.balance(lab, w - 2 * margin)
        gap = int(unit * 0.025)
        self._grid.setHorizontalSpacing(gap)
        self._grid.setVerticalSpacing(gap)
        rows = len(self._chips) if w < h else (len(self._chips) + 1) // 2
        for chip in self._chips:
            # Rows share the content height, within touch-friendly bounds.
            chip_h = int(min(unit * 0.13, max(self.touch(0.10), (h * 0.55 - gap * rows) / max(rows, 1))))
            chip.setFixedHeight(max(chip_h, self.touch(0.09)))
            chip.text_px = self.px(0.034)
            chip.update()
        for face in self._faces:
            face.setMaximumHeight(int(unit * 0.40))
            face.setMaximumWidth(int(unit * 0.34))
            face.text_scale = 1.4 if self.text_scale > 1 else 1.0
        button_h = self.touch(0.10)
        for b in (self.skip_button, self.done_button):
            b.size_to(self.px(0.036), button_h)
            b.setMinimumWidth(int(unit * 0.34))
        if self._chips or self._faces:
            # Re-place on orientation change (one column of chips in portrait).
            for wdg in self._chips + self._faces:
                self._grid.removeWidget(wdg)
            self._place()
