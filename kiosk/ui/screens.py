"""The kiosk's three screens: the start screen (one question, a row of faces), thank-you, error.

Screens only show things and emit signals; they never touch the store. Type sizes follow the
window's height so the same layout reads well on a 10" tablet and a 24" touch screen.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSpacerItem, QVBoxLayout, QWidget

from hailong_core.questionnaire import Question
from kiosk.ui.faces import INK, FaceButton, build_faces
from kiosk.ui.strings import DEFAULT_LANG, tr

BACKGROUND = "#F4F6F9"
HEADER = "#15365C"  # calm navy band for the unit's name
MUTED = "#4A5868"
OK_GREEN = QColor("#3FA34D")
NOTICE_BLUE = QColor("#2F6FB0")  # the error screen is a polite notice, not an alarm: no red


def _set_px(label: QLabel, px: float, bold: bool = False) -> None:
    font = QFont(label.font())
    font.setPixelSize(max(12, int(px)))
    font.setWeight(QFont.Weight.Bold if bold else QFont.Weight.Normal)
    label.setFont(font)


def _balance(label: QLabel, width: int) -> None:
    """Narrow a wrapped label to the least width that needs no more lines than ``width`` does.

    The lines then come out even ("… với cán bộ / đã phục vụ … không?") instead of a full
    first line and a lone last word.
    """
    metrics = QFontMetrics(label.font())
    flags = int(Qt.TextFlag.TextWordWrap)
    height = lambda w: metrics.boundingRect(QRect(0, 0, w, 100_000), flags, label.text()).height()  # noqa: E731
    target = height(width)
    lo, hi = max(1, width // 4), width
    while lo < hi:
        mid = (lo + hi) // 2
        if height(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    # A little slack: QLabel's own layout may round differently from QFontMetrics.
    label.setFixedWidth(min(width, hi + max(8, metrics.averageCharWidth())))


def _label(text: str = "", colour: str = INK.name()) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet(f"color: {colour}; background: transparent;")
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return label


def _fill(widget: QWidget, colour: str) -> None:
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor(colour))
    widget.setPalette(palette)
    widget.setAutoFillBackground(True)


class _Screen(QWidget):
    """Common background for all screens."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        _fill(self, BACKGROUND)


class StartScreen(_Screen):
    """The unit's name, the overall question, and one face per level of its scale."""

    sig_level_chosen = Signal(int)
    """Fires when a citizen taps a face; carries that level's value (1..N, N most satisfied)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.header = QWidget()
        _fill(self.header, HEADER)
        self.unit_label = _label(colour="#FFFFFF")
        self.unit_label.setObjectName("unit_label")
        header_layout = QVBoxLayout(self.header)
        header_layout.addWidget(self.unit_label)

        self.question_label = _label()
        self.question_label.setObjectName("question_label")
        self.hint_label = _label(tr("tap_hint"), MUTED)

        self._faces: list[FaceButton] = []
        self._faces_row = QHBoxLayout()

        body = QVBoxLayout()
        body.addStretch(2)
        body.addWidget(self.question_label, 0, Qt.AlignmentFlag.AlignHCenter)
        body.addStretch(1)
        body.addLayout(self._faces_row, 10)
        body.addStretch(1)
        body.addWidget(self.hint_label)
        body.addStretch(2)
        self._body = body

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.header)
        outer.addLayout(body, 1)

    def faces(self) -> list[FaceButton]:
        """The face buttons now on screen, least satisfied first."""
        return list(self._faces)

    def set_content(self, unit_name: str, question: Question, lang: str = DEFAULT_LANG) -> None:
        """Show ``unit_name`` and the scale ``question``; rebuilds the faces from its levels."""
        self.unit_label.setText(unit_name)
        self.question_label.setText(question.text.get(lang))
        for face in self._faces:
            self._faces_row.removeWidget(face)
            face.deleteLater()
        self._faces = build_faces(question.levels, lang, self)
        for face in self._faces:
            # A queued tap could outlive a rebuild; bind the value, not the widget.
            face.clicked.connect(lambda _=False, v=face.value: self.sig_level_chosen.emit(v))
            self._faces_row.addWidget(face)
        self._apply_sizes()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._apply_sizes()

    def _apply_sizes(self) -> None:
        w, h = self.width(), self.height()
        unit = min(h, w * 0.625)  # 16:10 reference, so very wide screens do not blow up the type
        _set_px(self.unit_label, unit * 0.034, bold=True)
        _set_px(self.question_label, unit * 0.058, bold=True)
        _set_px(self.hint_label, unit * 0.032)
        margin = int(w * 0.04)
        self.header.layout().setContentsMargins(margin, int(unit * 0.025), margin, int(unit * 0.025))
        self._body.setContentsMargins(margin, 0, margin, 0)
        _balance(self.question_label, w - 2 * margin)
        self._faces_row.setSpacing(int(w * 0.018))
        # Faces as large as the space allows, but no taller than ~half the screen.
        for face in self._faces:
            face.setMaximumHeight(int(unit * 0.50))
            face.setMaximumWidth(int(unit * 0.42))


class _Badge(QWidget):
    """A large round symbol: a check mark (saved) or an ``i`` (a notice)."""

    def __init__(self, kind: str, colour: QColor, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.colour = colour
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.height() / 2 * 0.95
        c = QPointF(self.width() / 2, self.height() / 2)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.colour)
        p.drawEllipse(c, r, r)
        pen = QPen(QColor("#FFFFFF"), r * 0.16, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        if self.kind == "check":
            path = QPainterPath(QPointF(c.x() - r * 0.42, c.y() + r * 0.02))
            path.lineTo(QPointF(c.x() - r * 0.12, c.y() + r * 0.32))
            path.lineTo(QPointF(c.x() + r * 0.45, c.y() - r * 0.30))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        else:
            p.drawLine(QPointF(c.x(), c.y() - r * 0.05), QPointF(c.x(), c.y() + r * 0.45))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#FFFFFF"))
            p.drawEllipse(QPointF(c.x(), c.y() - r * 0.40), r * 0.10, r * 0.10)
        p.end()


class _MessageScreen(_Screen):
    """A badge, a large title, a body line and an optional footer, centred."""

    def __init__(self, kind: str, colour: QColor, title: str, body: str, footer: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.badge = _Badge(kind, colour)
        self.title_label = _label(title)
        self.title_label.setObjectName("title_label")
        self.body_label = _label(body, MUTED)
        self.footer_label = _label(footer, MUTED)
        self.footer_label.setVisible(bool(footer))
        layout = QVBoxLayout(self)
        layout.addStretch(3)
        layout.addWidget(self.badge)
        self._gaps = [QSpacerItem(0, 8), QSpacerItem(0, 8)]  # sized with the window on resize
        layout.addItem(self._gaps[0])
        layout.addWidget(self.title_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addItem(self._gaps[1])
        layout.addWidget(self.body_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        layout.addWidget(self.footer_label)
        layout.addStretch(1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        w, h = self.width(), self.height()
        unit = min(h, w * 0.625)
        self.badge.setFixedHeight(int(unit * 0.22))
        _set_px(self.title_label, unit * 0.068, bold=True)
        _set_px(self.body_label, unit * 0.042)
        _set_px(self.footer_label, unit * 0.032)
        for gap in self._gaps:
            gap.changeSize(0, int(unit * 0.03))
        margin = int(w * 0.08)
        self.layout().setContentsMargins(margin, 0, margin, 0)
        for label in (self.title_label, self.body_label):
            _balance(label, w - 2 * margin)
        self.layout().invalidate()


class ThankYouScreen(_MessageScreen):
    """Shown only after the answer committed (contract 1)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("check", OK_GREEN, tr("thanks_title"), tr("thanks_body"), tr("thanks_footer"), parent)


class ErrorScreen(_MessageScreen):
    """Shown instead of the thank-you when the answer could not be stored."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("notice", NOTICE_BLUE, tr("error_title"), tr("error_body"), "", parent)
