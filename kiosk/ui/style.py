"""Colours, type sizes and small label helpers shared by every screen.

Type and touch targets are sized from the window (``unit`` = the short side of a 16:10 box that
fits it), so the same layout reads well on an 800×1280 tablet and a 1920×1080 touch screen. The
larger-text mode multiplies every type size by :data:`LARGE_TEXT`.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from kiosk.ui.faces import INK, MIN_TOUCH_MM

INK_HEX = INK.name()
BACKGROUND = "#F4F6F9"
HEADER = "#15365C"       # calm navy band for the unit's name
SUBHEADER = "#E3E9F1"    # the officer-on-duty strip
MUTED = "#4A5868"
ACCENT = "#1F5FA8"
OK_GREEN = "#3FA34D"
NOTICE_BLUE = "#2F6FB0"  # the error screen is a polite notice, not an alarm: no red
WHITE = "#FFFFFF"
LARGE_TEXT = 1.25


def unit_of(widget: QWidget) -> float:
    """The size unit of ``widget``: its height, but never more than 0.625 × its width.

    Portrait (a tablet on its side): 0.8 × the width, so type is not tiny on a tall screen.
    """
    w, h = widget.width(), widget.height()
    if h > w:
        return float(min(w * 0.8, h * 0.625)) or 500.0
    return float(min(h, w * 0.625)) or 500.0


def min_touch_px(widget: QWidget) -> int:
    """:data:`MIN_TOUCH_MM` in this screen's logical pixels (never under 57 px, ~15 mm at 96 dpi)."""
    return max(57, int(MIN_TOUCH_MM / 25.4 * max(widget.logicalDpiX(), 72) + 0.5))


def font_px(base: QFont, px: float, bold: bool = False) -> QFont:
    font = QFont(base)
    font.setPixelSize(max(12, int(px)))
    font.setWeight(QFont.Weight.Bold if bold else QFont.Weight.Normal)
    return font


def set_px(widget: QWidget, px: float, bold: bool = False) -> None:
    """Give ``widget`` a font of ``px`` pixels (at least 12)."""
    widget.setFont(font_px(widget.font(), px, bold))


def balance(label: QLabel, width: int) -> None:
    """Narrow a wrapped label to the least width that needs no more lines than ``width`` does.

    The lines then come out even ("… với cán bộ / đã phục vụ … không?") instead of a full
    first line and a lone last word.
    """
    width = max(40, width)
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
    fixed = min(width, hi + max(8, metrics.averageCharWidth()))
    label.setFixedWidth(fixed)
    # Nested layouts do not always ask a wrapped label for its height at this width: say it.
    label.setMinimumHeight(height(fixed) + 2)


def label(text: str = "", colour: str = INK.name(), *, wrap: bool = True, align=Qt.AlignmentFlag.AlignCenter) -> QLabel:
    """A transparent, word-wrapped label in ``colour``."""
    lab = QLabel(text)
    lab.setWordWrap(wrap)
    lab.setAlignment(align)
    lab.setStyleSheet(f"color: {colour}; background: transparent;")
    lab.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    lab.setTextFormat(Qt.TextFormat.PlainText)  # config text is data, never markup
    return lab


def fill(widget: QWidget, colour: str) -> None:
    """Paint ``widget``'s background in ``colour`` (without style-sheet cascades to children)."""
    widget.setAutoFillBackground(True)
    pal = widget.palette()
    from PySide6.QtGui import QColor, QPalette

    pal.setColor(QPalette.ColorRole.Window, QColor(colour))
    widget.setPalette(pal)
