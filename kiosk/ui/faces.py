"""A face button drawn with QPainter: colour, face and word together, never colour alone.

A scale of 3 to 5 levels maps onto one expression axis, from a frown (least satisfied) to a broad
smile (most satisfied), so a 3-level and a 5-level scale both read the same way. No image files:
the faces scale to any screen and stay sharp.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QWidget

# Red → orange → amber → light green → green. Each face also differs by expression and word, so
# colour-blind citizens lose nothing.
_STOPS: tuple[tuple[float, str], ...] = (
    (0.00, "#D84339"),
    (0.25, "#F0863A"),
    (0.50, "#F6C343"),
    (0.75, "#8CC152"),
    (1.00, "#3FA34D"),
)
INK = QColor("#1E2A38")  # features and label: near-black navy, high contrast on white and on the fills
CARD = QColor("#FFFFFF")
CARD_BORDER = QColor("#D5DCE5")

MIN_TOUCH_MM = 15.0  # smallest touch target we accept (a fingertip is ~10 mm; citizens may be elderly)


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
    colour. The button grows with the layout; it never gets smaller than :data:`MIN_TOUCH_MM`.
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
        self.text_scale = 1.0  # the larger-text mode: the word under the face grows, the face gives way
        self.setText(label)
        self.setAccessibleName(label)
        self.setObjectName(f"face_{value}")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # touch only: no focus ring to confuse anyone
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- size --------------------------------------------------------------------------------

    def _min_touch_px(self) -> int:
        return int(MIN_TOUCH_MM / 25.4 * max(self.logicalDpiX(), 72) + 0.5)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        side = self._min_touch_px()
        # Room under the face for a two-line label.
        return QSize(side, int(side * 1.6))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        side = max(self._min_touch_px() * 2, 200)
        return QSize(side, int(side * 1.3))

    # --- drawing -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Card, face and label; pressed = tinted card, thick coloured border, face nudged down."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        w, h = self.width(), self.height()
        pressed = self.isDown()

        border = max(2.0, min(w, h) * 0.012)
        inset = border * 1.5  # room for the pressed border, so it is never clipped
        card = QRectF(inset, inset, w - 2 * inset, h - 2 * inset)
        radius = min(w, h) * 0.08
        if pressed:
            fill = QColor(self.colour)
            fill.setAlpha(60)
            p.setPen(QPen(self.colour.darker(115), border * 3))
            p.setBrush(fill)
        else:
            p.setPen(QPen(CARD_BORDER, border))
            p.setBrush(CARD)
        p.drawRoundedRect(card, radius, radius)

        pad = card.width() * 0.08
        text_width = card.width() - pad
        start_px = min(card.width() * 0.125, card.height() * 0.085 * self.text_scale)
        font, lines = self._fit_label(text_width, max(14, int(start_px)))
        line_h = QFontMetricsF(font).lineSpacing()
        label_h = line_h * 2  # always two lines, so faces line up across the row
        gap = pad * 0.6

        # Face and label as one group, centred in the card.
        diameter = max(10.0, min(card.width() - 2 * pad, card.height() - 2 * pad - gap - label_h))
        top = card.top() + (card.height() - diameter - gap - label_h) / 2
        centre = QPointF(card.center().x(), top + diameter / 2)
        if pressed:
            centre += QPointF(0, diameter * 0.02)
            self._draw_face(p, centre, diameter / 2 * 0.94)
        else:
            self._draw_face(p, centre, diameter / 2)

        p.setFont(font)
        p.setPen(INK)
        text_rect = QRectF(card.center().x() - text_width / 2, top + diameter + gap, text_width, label_h)
        p.drawText(text_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), "\n".join(lines))
        p.end()

    def _fit_label(self, width: float, px: int) -> tuple[QFont, list[str]]:
        """The largest bold font (from ``px`` down) that shows every row label in at most two lines.

        Two lines are balanced ("Rất không / hài lòng", not "Rất không hài / lòng").
        """
        font = QFont(self.font())
        font.setWeight(QFont.Weight.Bold)
        while True:
            font.setPixelSize(px)
            metrics = QFontMetricsF(font)
            if px <= 12 or all(_widest(_wrap(text, metrics, width), metrics) <= width for text in self.row_labels):
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
