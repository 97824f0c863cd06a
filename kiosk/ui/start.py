"""The start (attract) screen: the unit, the officer on duty, the overall question as big faces.

It is also the quiet after-hours screen (``quiet=True``): "Ngoài giờ làm việc", today's hours, and
smaller faces, since a press outside office hours is still stored (with a flag).
The language and larger-text toggles live here, visible, beside the officer on duty; the officer's
own sign-in control is a quiet 15 mm icon in the strip's corner, out of the citizen's way.

With the scan step on (config ``dossier_scan``, issue 14) a line under the faces invites a scan
of the receipt, then says the receipt was received, or politely that the scan was not a receipt
of this office. It never shows the code: the officer stands beside the screen.

Sizes are physical (:mod:`kiosk.ui.style`): the faces are at least 26 mm across (more on a larger
screen), grow with "Chữ lớn" like the words do, and in portrait stand in two rows (3 + 2) so the
height of the screen is used.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from hailong_core.questionnaire import Question
from kiosk.ui import style
from kiosk.ui.faces import CARD_SLACK, PAD, FaceButton, build_faces
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import Avatar, BigButton, OfficerButton

PHOTO_MM = 30.0       # an officer's photo large enough to recognise them
FACE_MM = 26.0        # the faces' diameter at normal text (more when the window is larger)
FACE_WORD_CAP_MM = 3.2


def face_columns(count: int, portrait: bool) -> int:
    """Faces per row: all in one row in landscape; in portrait 3 + 2 (5 levels), 2 + 2 (4), 3 (3)."""
    if not portrait:
        return count
    return 2 if count == 4 else min(count, 3)


def place_faces(grid: QGridLayout, faces: list[FaceButton], columns: int) -> None:
    """Put ``faces`` in ``grid``, ``columns`` per row, a shorter last row centred under the others.

    Each face spans two half-columns, so a row of two sits between a row of three.
    """
    for face in faces:
        grid.removeWidget(face)
    rows = (len(faces) + columns - 1) // max(columns, 1)
    for i, face in enumerate(faces):
        row, col = divmod(i, columns)
        in_row = columns if row < rows - 1 else len(faces) - columns * (rows - 1)
        offset = columns - in_row  # in half-columns
        grid.addWidget(face, row, offset + col * 2, 1, 2, Qt.AlignmentFlag.AlignCenter)


def fit_faces(faces: list[FaceButton], *, columns: int, width: float, height: float, gap: float,
              face_px: float, label_px: float, label_min_px: float) -> float:
    """Size ``faces`` to a diameter of ``face_px`` at most, within ``width`` × ``height``; returns the diameter."""
    if not faces:
        return 0.0
    rows = (len(faces) + columns - 1) // columns
    label_h = faces[0].label_height(label_px)
    k = 1 / (1 - 2 * PAD)  # see FaceButton.card_size
    per_w = (width - gap * (columns - 1)) / columns
    per_h = (height - gap * (rows - 1)) / rows
    by_width = (per_w - CARD_SLACK) / k
    by_height = (per_h - label_h - CARD_SLACK - 2.6 * PAD * CARD_SLACK) / (1 + 2.6 * PAD * k)
    diameter = max(10.0, min(face_px, by_width, by_height))
    card = faces[0].card_size(diameter, label_px)
    # A small face (after hours) still gets a card wide enough for its longest word.
    font = style.font_px(faces[0].font(), label_min_px, bold=True)
    words = [word for face in faces for text in face.row_labels for word in text.split()]
    widest = max((QFontMetricsF(font).horizontalAdvance(word) for word in words), default=0.0)
    card.setWidth(int(min(max(card.width(), widest / (1 - PAD) + CARD_SLACK + 4), per_w)))
    for face in faces:
        face.face_px = diameter
        face.label_px = label_px
        face.label_min_px = label_min_px
        face.setFixedSize(card)
        face.update()
    return diameter


class DutyStrip(QWidget):
    """The officer on duty (photo, name, title, counter), the VI/EN and text toggles, the officer icon.

    Landscape: one band, the toggles along its top right and the officer's icon in its bottom
    right corner when there is room beside them (else under them). Portrait: the officer and the
    icon, then the toggles on a row of their own. :meth:`size_to` gives the band a fixed height.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        style.fill(self, style.SUBHEADER)
        self.avatar = Avatar()
        self.avatar.setObjectName("officer_photo")
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        self.caption_label = style.label("", style.MUTED, align=left)
        self.caption_label.setObjectName("officer_caption")
        self.officer_label = style.label("", style.INK_HEX, align=left)
        self.officer_label.setObjectName("officer_label")
        self.title_label = style.label("", style.INK_HEX, align=left)
        self.title_label.setObjectName("officer_title")
        self.counter_label = style.label("", style.INK_HEX, align=left)
        self.counter_label.setObjectName("officer_counter")
        self.officer_button = OfficerButton()
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

        self._who_box = QWidget()  # takes the strip's spare width, so the toggles stay right
        self._who_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._who = QVBoxLayout(self._who_box)
        self._who.setContentsMargins(0, 0, 0, 0)
        self._who.setSpacing(0)
        self._who.addStretch(1)
        for lab in self._who_labels():
            self._who.addWidget(lab)
        self._who.addStretch(1)
        self._toggles_box = QWidget()
        self._toggles_box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._toggles = QHBoxLayout(self._toggles_box)
        self._toggles.setContentsMargins(0, 0, 0, 0)
        self._toggles.addWidget(self.vi_button)
        self._toggles.addWidget(self.en_button)
        self._toggles.addWidget(self.large_button)
        self._grid = QGridLayout(self)
        self._on_duty = False
        self._portrait = False
        self._stacked = False  # landscape: the icon under the toggles (narrow window, large text)
        self._name_px: tuple[float, float] | None = None  # (on duty, nobody), set by size_to
        self._place()

    def _who_labels(self) -> tuple:
        return self.caption_label, self.officer_label, self.title_label, self.counter_label

    def _place(self) -> None:
        grid = self._grid
        for item in (self.avatar, self.officer_button, self._toggles_box, self._who_box):
            grid.removeWidget(item)
        right = Qt.AlignmentFlag.AlignRight
        top, bottom, centre = Qt.AlignmentFlag.AlignTop, Qt.AlignmentFlag.AlignBottom, Qt.AlignmentFlag.AlignVCenter
        if self._on_duty:
            grid.addWidget(self.avatar, 0, 0, 2, 1)
        grid.addWidget(self._who_box, 0, 1, 2, 1)
        if self._portrait:
            grid.addWidget(self.officer_button, 0, 2, 2, 1, right | bottom)
            grid.addWidget(self._toggles_box, 2, 0, 1, 3, right)
        elif self._stacked:
            grid.addWidget(self._toggles_box, 0, 2, right | top)
            grid.addWidget(self.officer_button, 1, 2, right | bottom)
        else:
            grid.addWidget(self._toggles_box, 0, 2, 2, 1, right | (top if self._on_duty else centre))
            grid.addWidget(self.officer_button, 0, 3, 2, 1, right | (bottom if self._on_duty else centre))
        for col in range(4):
            grid.setColumnStretch(col, 1 if col == 1 else 0)
        self.avatar.setVisible(self._on_duty)

    def set_officer(self, session: dict | None, photo: str | None, *, on_duty: str, none_text: str,
                    title: str = "", counter: str = "", button_text: str = "") -> None:
        """Show the officer signed in (``session``), or ``none_text``."""
        was = self._on_duty
        self._on_duty = bool(session)
        if session:
            self.avatar.set_officer(session.get("name", ""), photo)
            self.caption_label.setText(on_duty)
            self.officer_label.setText(session.get("name", ""))
        else:
            self.caption_label.setText("")
            self.officer_label.setText(none_text)
        self.caption_label.setVisible(bool(session))
        self.title_label.setText(title)
        self.title_label.setVisible(bool(session) and bool(title))
        self.counter_label.setText(counter)
        self.counter_label.setVisible(bool(session) and bool(counter))
        self.officer_button.set_state(bool(session), button_text)
        if was != self._on_duty:
            self._place()
        if self._name_px:
            on = self._on_duty
            style.set_px(self.officer_label, self._name_px[0] if on else self._name_px[1], bold=on)

    def size_to(self, screen: Screen) -> int:
        """Size everything for ``screen``; returns (and fixes) the band's height."""
        w, h = screen.width(), screen.height()
        portrait = w < h
        unit = screen.unit()
        button_h = screen.touch(0.085)
        for b in (self.vi_button, self.en_button, self.large_button):
            b.size_to(screen.px(0.028, 3.2, grow=0.6), button_h)
        touch = style.min_touch_px(self)
        self.officer_button.setFixedSize(touch, touch)
        photo = math.ceil(max(screen.mm(PHOTO_MM), unit * 0.16))
        self.avatar.setFixedSize(photo, photo)
        # The strip's words are read once, by a citizen who wants to know who served them: they
        # grow a little with "Chữ lớn", not as much as the question and the answers.
        style.set_px(self.caption_label, screen.px(0.024, 2.8, grow=0.6))
        self._name_px = (screen.px(0.040, 4.5, grow=0.6), screen.px(0.030, 3.2, grow=0.6))
        style.set_px(self.officer_label, self._name_px[0] if self._on_duty else self._name_px[1], bold=self._on_duty)
        style.set_px(self.title_label, screen.px(0.028, 3.0, grow=0.6))
        style.set_px(self.counter_label, screen.px(0.028, 3.0, grow=0.6), bold=True)
        margin = int(w * 0.03)
        pad = int(max(screen.mm(2.0), unit * 0.012))
        spacing = int(max(screen.mm(2.5), unit * 0.015))
        hspace = int(spacing * 1.5)
        self._grid.setContentsMargins(margin, pad, margin, pad)
        self._grid.setHorizontalSpacing(hspace)
        self._grid.setVerticalSpacing(spacing)
        self._toggles.setSpacing(spacing)
        toggles_w = sum(b.sizeHint().width() for b in (self.vi_button, self.en_button, self.large_button)) + 2 * spacing
        photo_w = photo + hspace if self._on_duty else 0
        if portrait:
            who_w = w - 2 * margin - photo_w - touch - hspace
            stacked = False
        else:
            who_w = w - 2 * margin - photo_w - toggles_w - touch - 2 * hspace
            stacked = self._on_duty  # the photo's height leaves room for the icon under the toggles
            if stacked:
                who_w += touch + hspace
        if (portrait, stacked) != (self._portrait, self._stacked):
            self._portrait, self._stacked = portrait, stacked
            self._place()
        # Beside the toggles, the officer's icon keeps a clear distance from them.
        self._grid.setColumnMinimumWidth(3, 0 if portrait or stacked else touch + 2 * hspace)
        who_h = 0
        for lab in self._who_labels():
            style.balance(lab, max(int(who_w), 40))
            if not lab.isHidden():
                who_h += lab.minimumHeight()
        photo_h = photo if self._on_duty else 0
        if portrait:
            height = max(photo_h, who_h, touch) + spacing + button_h
        elif stacked:
            height = max(photo_h, who_h, button_h + spacing + touch)
        else:
            height = max(photo_h, who_h, button_h if not self._on_duty else max(button_h, touch))
        height += 2 * pad
        self.setFixedHeight(height)
        return height


class StartScreen(Screen):
    """The unit's name, the officer on duty, the overall question and one face per level."""

    sig_level_chosen = Signal(int)
    """Fires when a citizen taps a face; carries that level's value (1..N, N most satisfied)."""

    sig_lang_chosen = Signal(str)
    """Fires when the VI or EN toggle is tapped; carries ``vi`` or ``en``."""

    sig_large_text = Signal(bool)
    """Fires when the larger-text toggle changes; carries whether it is now on."""

    sig_officer_pressed = Signal()
    """Fires when the officer's icon (sign in, or sign out) is tapped."""

    def __init__(self, quiet: bool = False, parent: QWidget | None = None):
        super().__init__("after_hours_screen" if quiet else "start_screen", parent)
        self.quiet = quiet
        self.fit_any_window()
        self._unit_name = ""
        self._question: Question | None = None
        self._hours_text = ""
        self._session: dict | None = None
        self._photo: str | None = None
        self._officer: dict | None = None

        self.header = QWidget()
        style.fill(self.header, style.HEADER)
        self.unit_label = style.label(colour=style.WHITE)
        self.unit_label.setObjectName("unit_label")
        QVBoxLayout(self.header).addWidget(self.unit_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self.duty = DutyStrip()

        self.invite_label = style.label(colour=style.MUTED if not quiet else style.INK_HEX)
        self.invite_label.setObjectName("invite_label")
        self.question_label = style.label()
        self.question_label.setObjectName("question_label")
        self.hint_label = style.label(colour=style.MUTED)
        self.hint_label.setObjectName("hint_label")
        self.dossier_label = style.label(colour=style.MUTED)
        self.dossier_label.setObjectName("dossier_label")
        self._dossier: str | None = None  # None (no scan step), "hint", "attached" or "refused"

        self._faces: list[FaceButton] = []
        self._columns = 0
        self._faces_box = QWidget()
        self._faces_grid = QGridLayout(self._faces_box)
        self._faces_grid.setContentsMargins(0, 0, 0, 0)

        body = QVBoxLayout()
        body.addStretch(2)
        body.addWidget(self.invite_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self._invite_gap = body.count()
        body.addSpacing(8)
        body.addWidget(self.question_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addStretch(1)
        if quiet:
            body.addWidget(self.hint_label, 0, Qt.AlignmentFlag.AlignHCenter)
            body.addStretch(1)
        body.addWidget(self._faces_box, 10, Qt.AlignmentFlag.AlignHCenter)
        body.addStretch(1)
        if not quiet:
            body.addWidget(self.hint_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addWidget(self.dossier_label, 0, Qt.AlignmentFlag.AlignHCenter)
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
            self._faces_grid.removeWidget(face)
            face.hide()  # gone from the screen now; deleted when the event loop comes round
            face.deleteLater()
        self._faces = build_faces(question.levels, self.lang, self._faces_box)
        for face in self._faces:
            # A queued tap could outlive a rebuild; bind the value, not the widget.
            face.clicked.connect(lambda _=False, v=face.value: self.sig_level_chosen.emit(v))
        self._columns = 0  # placed afresh by relayout
        self.retranslate()
        self.relayout()

    def set_officer(self, session: dict | None, photo: str | None = None, *, officer: dict | None = None) -> None:
        """Show the officer on duty (or that nobody is signed in).

        ``officer`` is their roster entry (config): its ``title`` and ``counter`` are shown when
        given; the session's own ``counter`` wins over the roster's.
        """
        self._session, self._photo, self._officer = session, photo, officer
        officer = officer or {}
        title = str((officer.get("title") or (session or {}).get("title") or "") if session else "").strip()
        counter = str(((session or {}).get("counter") or officer.get("counter") or "") if session else "").strip()
        if counter and not counter.lower().startswith(("quầy", "counter")):
            counter = self.tr("officer_counter", counter=counter)
        shown = ((session or {}).get("officer_id"), (session or {}).get("name"), photo, title, counter, self.lang)
        self.duty.set_officer(session, photo, on_duty=self.tr("officer_on_duty"), none_text=self.tr("no_officer"),
                              title=title, counter=counter,
                              button_text=self.tr("sign_out") if session else self.tr("officer_sign_in"))
        if shown != getattr(self, "_officer_shown", None):
            self._officer_shown = shown
            self.relayout()  # the strip's height follows what it shows

    def set_hours_text(self, text: str) -> None:
        """Today's office hours (after-hours screen), e.g. ``07:30–11:30, 13:30–17:00``."""
        self._hours_text = text
        self.retranslate()

    DOSSIER_STATES = (None, "hint", "attached", "refused")

    def set_dossier(self, state: str | None) -> None:
        """The scan line: None (no scan step), ``hint`` (invite a scan of the receipt), ``attached``
        (the receipt was received: please rate) or ``refused`` (not a receipt of this office: rate
        as usual). The after-hours screen shows no invitation, only the outcome of a scan."""
        if state not in self.DOSSIER_STATES:
            raise ValueError(f"unknown scan line state {state!r}")
        if self.quiet and state == "hint":
            state = None
        if state == self._dossier:
            return
        self._dossier = state
        colour = {"attached": style.ACCENT, "refused": style.INK_HEX}.get(state or "", style.MUTED)
        self.dossier_label.setStyleSheet(f"color: {colour}; background: transparent;")
        self.retranslate()
        self.relayout()

    @property
    def dossier_state(self) -> str | None:
        return self._dossier

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
        self.dossier_label.setText(self.tr(f"dossier_{self._dossier}") if self._dossier else "")
        self.duty.large_button.setText(self.tr("large_text"))
        self.set_officer(self._session, self._photo, officer=self._officer)

    def relayout(self) -> None:
        w, h = self.width(), self.height()
        unit = self.unit()
        portrait = w < h
        style.set_px(self.unit_label, self.px(0.036, 3.2, grow=0.5), bold=True)
        margin = int(w * 0.04)
        header_pad = int(max(self.mm(2), unit * 0.02))
        self.header.layout().setContentsMargins(margin, header_pad, margin, header_pad)
        style.balance(self.unit_label, w - 2 * margin)
        header_h = self.unit_label.minimumHeight() + 2 * header_pad
        self.header.setFixedHeight(header_h)
        strip_h = self.duty.size_to(self)
        if self.quiet:
            style.set_px(self.invite_label, self.px(0.062, 5.0, grow=0.5), bold=True)
            style.set_px(self.question_label, self.px(0.040, 3.5))
        else:
            style.set_px(self.invite_label, self.px(0.036, 3.2))
            # Already large: it grows less with "Chữ lớn" than the small text does.
            style.set_px(self.question_label, self.px(0.066 if portrait else 0.056, 4.5, grow=0.3 if portrait else 0.5), bold=True)
        style.set_px(self.hint_label, self.px(0.032, 3.0))
        # The outcome of a scan is read once and must be read: bold, the hint's size; the
        # invitation to scan is a small aside.
        style.set_px(self.dossier_label, self.px(0.032 if self._dossier in ("attached", "refused") else 0.026, 3.0),
                     bold=self._dossier in ("attached", "refused"))
        bottom = int(self.mm(2))
        self._body.setContentsMargins(margin, 0, margin, bottom)
        texts_shown = [self.invite_label, self.question_label, self.hint_label]
        for lab in texts_shown:
            lab.setVisible(True)
            style.balance(lab, w - 2 * margin)
        self.dossier_label.setVisible(self._dossier is not None)
        if self._dossier is not None:
            style.balance(self.dossier_label, w - 2 * margin)
            texts_shown.append(self.dossier_label)
        if not self._faces:
            return
        columns = face_columns(len(self._faces), portrait)
        if columns != self._columns:
            self._columns = columns
            place_faces(self._faces_grid, self._faces, columns)
        gap = int(max(self.mm(3), w * 0.018))
        self._faces_grid.setHorizontalSpacing(gap)
        self._faces_grid.setVerticalSpacing(gap)
        label_px = self.px(0.030, FACE_WORD_CAP_MM)
        label_min = style.cap_px(self, FACE_WORD_CAP_MM * 0.9)
        wanted = max(self.mm(FACE_MM), unit * 0.2) * self.text_scale * (0.75 if self.quiet else 1.0)
        # Optional lines give way to the faces (large text in a small window): the invitation to
        # scan, the invitation, then the hint. The question, after hours the hours, and the
        # outcome of a scan (the citizen waits for it) never go.
        optional = [] if self.quiet else [self.invite_label, self.hint_label]
        if self._dossier == "hint":
            optional.insert(0, self.dossier_label)
        elif self._dossier is not None and not self.quiet:
            optional.remove(self.hint_label)
            optional.insert(0, self.hint_label)  # "tap a face" says less than "please rate" just did
        while True:
            texts = sum(lab.minimumHeight() for lab in texts_shown if not lab.isHidden())
            # The invitation's gap, some air around the faces (and above the scan line).
            gaps = 8 + gap * (2 if not self.invite_label.isHidden() else 1) + (gap // 2 if not self.dossier_label.isHidden() else 0)
            height = h - header_h - strip_h - texts - gaps - bottom - 4
            diameter = fit_faces(self._faces, columns=columns, width=w - 2 * margin, height=height, gap=gap,
                                 face_px=wanted, label_px=label_px, label_min_px=label_min)
            if diameter >= wanted * 0.92 or not optional:
                break
            optional.pop(0).setVisible(False)
        for face in self._faces:
            face.text_scale = self.text_scale
