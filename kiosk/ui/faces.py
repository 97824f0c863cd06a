"""A face button drawn with QPainter: colour, face and word together, never colour alone.

A scale of 3 to 5 levels maps onto one expression axis, from a frown (least satisfied) to a broad
smile (most satisfied), so a 3-level and a 5-level scale both read the same way. No image files:
the faces scale to any screen and stay sharp.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QWidget

from kiosk.ui import style
from kiosk.ui.style import INK, MIN_TOUCH_MM  # noqa: F401 - re-exported for importers of the old layout

# Red → orange → amber → light green → green. Each face also differs by expression and word, so
# colour-blind citizens lose nothing.
_STOPS: tuple[tuple[float, str], ...] = (
    (0.00, "#D84339"),
    (0.25, "#F0863A"),
    (0.50, "#F6C343"),
    (0.75, "#8CC152"),
    (1.00, "#3FA34D"),
)
CARD = QColor("#FFFFFF")
CARD_BORDER = QColor(style.BORDER)  # 3.5:1 against the screen's background (WCAG non-text contrast)

PAD = 0.08        # padding inside the card, as a share of its width
LABEL_LINES = 2   # room for two lines under every face, so the faces line up across the row
CARD_SLACK = 8    # pixels around the card for its border (pressed: thicker)


class FaceGeometry(NamedTuple):
    """Where a face button draws its parts (in its own pixels)."""

    card: QRectF
    diameter: float
    centre: QPointF
    font: QFont
    lines: list[str]
    text_rect: QRectF


def level_position(value: int, count: int) -> float:
    """Where level ``value`` of ``count`` sits on the frown-to-smile axis, 0.0 to 1.0."""
    if count < 2:
        return 1.0
    return (value - 1) / (count - 1)


def level_colour(position: float) -> QColor:
    """The fill colour for a position on the axis, interpolated between the palette stops."""
    position = min(max(position, 0.0), 1.0)
    for (p0, c0), (p1, c1) in zip(_STOPS, _STOPS[1:]):
        if position <= p1:
            f = 0.0 if p1 == p0 else (position - p0) / (p1 - p0)
            a, b = QColor(c0), QColor(c1)
            return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * f,
                                   a.greenF() + (b.greenF() - a.greenF()) * f,
                                   a.blueF() + (b.blueF() - a.blueF()) * f)
    return QColor(_STOPS[-1][1])


class FaceButton(QAbstractButton):
    """One answer level as a large touch button: a drawn face over its Vietnamese label.

    ``value`` is the level number the answer stores; ``position`` (0..1) picks the expression and
    colour. The screen sets :attr:`face_px` (the diameter it wants) and :attr:`label_px` (the type
    size it wants, shrunk only to fit the card); the button never gets smaller than
    :data:`MIN_TOUCH_MM`. It reacts on release (``clicked``), like every button of the kiosk.
    """

    def __init__(self, value: int, label: str, position: float, parent: QWidget | None = None,
                 row_labels: tuple[str, ...] = ()):
        super().__init__(parent)
        self.value = value
        # The labels of the whole row: every face picks the size at which all of them fit, so the
        # words under the faces are one size.
        self.row_labels = tuple(row_labels) or (label,)
        self.position = min(max(position, 0.0), 1.0)
        self.colour = level_colour(self.position)
        self.text_scale = 1.0  # kept for callers of the old API; the screen sizes face and word
        self.face_px = 0.0     # wanted diameter; 0: as large as the card allows
        self.label_px = 0.0    # wanted type size; 0: from the card's size
        self.label_min_px = 12.0
        self.setText(label)
        self.setAccessibleName(label)
        self.setObjectName(f"face_{value}")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # touch only: no focus ring to confuse anyone
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- size --------------------------------------------------------------------------------

    def _min_touch_px(self) -> int:
        return style.min_touch_px(self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        side = self._min_touch_px()
        # Room under the face for a two-line label.
        return QSize(side, int(side * 1.6))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        if self.face_px:
            return self.card_size(self.face_px, self.label_px or self.face_px * 0.16)
        side = max(self._min_touch_px() * 2, 200)
        return QSize(side, int(side * 1.3))

    def label_height(self, label_px: float) -> float:
        """The height of the two label lines at ``label_px``."""
        return QFontMetricsF(style.font_px(self.font(), label_px, bold=True)).lineSpacing() * LABEL_LINES

    def card_size(self, face_px: float, label_px: float) -> QSize:
        """The button size that holds a face of ``face_px`` over two lines of ``label_px`` type."""
        width = face_px / (1 - 2 * PAD) + CARD_SLACK
        pad = width * PAD
        return QSize(int(width + 0.5), int(face_px + 2.6 * pad + self.label_height(label_px) + CARD_SLACK + 0.5))

    def geometry_of_parts(self) -> FaceGeometry:
        """Card, face and label as they are painted now (tests and sizes.txt measure them)."""
        w, h = self.width(), self.height()
        border = max(2.0, min(w, h) * 0.012)
        inset = border * 1.5  # room for the pressed border, so it is never clipped
        card = QRectF(inset, inset, w - 2 * inset, h - 2 * inset)
        pad = card.width() * PAD
        text_width = card.width() - pad
        start_px = self.label_px or min(card.width() * 0.125, card.height() * 0.085 * self.text_scale)
        font, lines = self._fit_label(text_width, max(12, int(start_px)))
        label_h = QFontMetricsF(font).lineSpacing() * LABEL_LINES
        gap = pad * 0.6
        diameter = max(10.0, min(card.width() - 2 * pad, card.height() - 2 * pad - gap - label_h))
        if self.face_px:
            diameter = min(diameter, self.face_px)
        # Face and label as one group, centred in the card.
        top = card.top() + (card.height() - diameter - gap - label_h) / 2
        centre = QPointF(card.center().x(), top + diameter / 2)
        text_rect = QRectF(card.center().x() - text_width / 2, top + diameter + gap, text_width, label_h)
        return FaceGeometry(card, diameter, centre, font, lines, text_rect)

    def face_diameter(self) -> float:
        """The drawn face's diameter in pixels."""
        return self.geometry_of_parts().diameter

    def label_font(self) -> QFont:
        """The font the word under the face is drawn in."""
        return self.geometry_of_parts().font

    # --- drawing -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Card, face and label; pressed = tinted card, thick coloured border, face nudged down."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        w, h = self.width(), self.height()
        pressed = self.isDown()
        parts = self.geometry_of_parts()
        border = max(2.0, min(w, h) * 0.012)
        radius = min(w, h) * 0.08
        if pressed:
            fill = QColor(self.colour)
            fill.setAlpha(60)
            p.setPen(QPen(self.colour.darker(115), border * 3))
            p.setBrush(fill)
        else:
            p.setPen(QPen(CARD_BORDER, border))
            p.setBrush(CARD)
        p.drawRoundedRect(parts.card, radius, radius)

        diameter = parts.diameter
        if pressed:
            self._draw_face(p, parts.centre + QPointF(0, diameter * 0.02), diameter / 2 * 0.94)
        else:
            self._draw_face(p, parts.centre, diameter / 2)

        p.setFont(parts.font)
        p.setPen(INK)
        p.drawText(parts.text_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), "\n".join(parts.lines))
        p.end()

    def _fit_label(self, width: float, px: int) -> tuple[QFont, list[str]]:
        """The largest bold font (from ``px`` down) that shows every row label in at most two lines.

        Two lines are balanced ("Rất không / hài lòng", not "Rất không hài / lòng"). It never goes
        under :attr:`label_min_px`: the screen makes the cards wide enough for that.
        """
        font = QFont(self.font())
        font.setWeight(QFont.Weight.Bold)
        floor = max(12, int(self.label_min_px))
        while True:
            font.setPixelSize(px)
            metrics = QFontMetricsF(font)
            if px <= floor or all(_widest(_wrap(text, metrics, width), metrics) <= width for text in self.row_labels):
                return font, _wrap(self.text(), metrics, width)
            px -= 1

    def _draw_face(self, p: QPainter, c: QPointF, r: float) -> None:
        t = self.position
        p.setPen(QPen(self.colour.darker(135), max(2.0, r * 0.05)))
        p.setBrush(self.colour)
        p.drawEllipse(c, r, r)

        ink_pen = QPen(INK, max(2.0, r * 0.085), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)

        # Eyes.
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(INK)
        eye_y = c.y() - r * 0.22
        for dx in (-0.34, 0.34):
            p.drawEllipse(QPointF(c.x() + dx * r, eye_y), r * 0.09, r * 0.13)

        # Brows only on the unhappy half: inner ends raised, more so the less satisfied.
        sadness = max(0.0, 0.5 - t) * 2  # 1.0 at the frown, 0.0 from neutral up
        if sadness > 0:
            p.setPen(ink_pen)
            brow_y = c.y() - r * 0.47
            lift = r * 0.16 * sadness
            p.drawLine(QPointF(c.x() - r * 0.50, brow_y + lift * 0.3), QPointF(c.x() - r * 0.18, brow_y - lift))
            p.drawLine(QPointF(c.x() + r * 0.50, brow_y + lift * 0.3), QPointF(c.x() + r * 0.18, brow_y - lift))

        # Mouth: one curve whose bend goes from frown (-1) through flat (0) to smile (+1).
        bend = t * 2 - 1
        half = r * (0.36 + 0.10 * max(bend, 0))
        mouth_y = c.y() + r * 0.38
        depth = r * 0.30 * bend
        left = QPointF(c.x() - half, mouth_y - depth * 0.35)
        right = QPointF(c.x() + half, mouth_y - depth * 0.35)
        path = QPainterPath(left)
        path.cubicTo(QPointF(c.x() - half * 0.5, mouth_y + depth * 0.9),
                     QPointF(c.x() + half * 0.5, mouth_y + depth * 0.9), right)
        if t >= 0.99:
            # Broad smile: an open mouth, closed by a gentle upper lip.
            path.cubicTo(QPointF(c.x() + half * 0.5, mouth_y + depth * 0.05),
                         QPointF(c.x() - half * 0.5, mouth_y + depth * 0.05), left)
            p.setPen(ink_pen)
            p.setBrush(INK)
        else:
            p.setPen(ink_pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)


def _widest(lines: list[str], metrics: QFontMetricsF) -> float:
    return max(metrics.horizontalAdvance(line) for line in lines)


def _wrap(text: str, metrics: QFontMetricsF, width: float) -> list[str]:
    """``text`` on one line if it fits in ``width``, else on two balanced lines."""
    words = text.split()
    one = " ".join(words)
    return [one] if metrics.horizontalAdvance(one) <= width else _balanced_lines(words, metrics)


def _balanced_lines(words: list[str], metrics: QFontMetricsF) -> list[str]:
    """``words`` split into the two lines whose longer one is shortest."""
    if len(words) < 2:
        return [" ".join(words)]
    best = None
    for i in range(1, len(words)):
        lines = [" ".join(words[:i]), " ".join(words[i:])]
        widest = max(metrics.horizontalAdvance(line) for line in lines)
        if best is None or widest < best[0]:
            best = (widest, lines)
    return best[1]


def build_faces(levels, lang: str = "vi", parent: QWidget | None = None) -> list[FaceButton]:
    """Face buttons for a scale question's levels (objects with ``value`` and ``label.get(lang)``)."""
    count = len(levels)
    labels = tuple(lv.label.get(lang) for lv in levels)
    return [FaceButton(lv.value, lv.label.get(lang), level_position(lv.value, count), parent, labels) for lv in levels]
