"""Colours, physical sizes and small label helpers shared by every screen.

Sizes are in millimetres on the glass, not in pixels: a fingertip and an elderly citizen's eyes do
not care how many pixels a panel has. :func:`px_per_mm` is the one conversion the whole UI uses;
it comes from the kiosk settings ``screen_dpi`` / ``screen_diagonal_in`` when set (see
:func:`set_display`), else from the screen's own report (``QScreen.physicalDotsPerInch``, which
many panels get wrong), else 96 ppi. Layouts still grow with the window (``unit`` = the short side
of a 16:10 box that fits it) so a 21.5" screen is not left mostly empty; the millimetre values are
floors. The larger-text mode multiplies every type size (and the faces) by :data:`LARGE_TEXT`.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QFontMetricsF, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

log = logging.getLogger(__name__)

INK = QColor("#1E2A38")  # near-black navy: text and face features, high contrast on white and on the fills
INK_HEX = INK.name()
BACKGROUND = "#F4F6F9"
HEADER = "#15365C"       # calm navy band for the unit's name
SUBHEADER = "#E3E9F1"    # the officer-on-duty strip
MUTED = "#4A5868"
ACCENT = "#1F5FA8"
OK_GREEN = "#3FA34D"
NOTICE_BLUE = "#2F6FB0"  # the error screen is a polite notice, not an alarm: no red
WHITE = "#FFFFFF"
# Outlines of cards, chips and buttons: 3.5:1 against BACKGROUND, 3.8:1 against white (WCAG 1.4.11
# asks 3:1 for the edge of a control).
BORDER = "#73849A"
LARGE_TEXT = 1.3

MIN_TOUCH_MM = 15.0   # smallest touch target we accept (a fingertip is ~10 mm; citizens may be elderly)
MIN_CAP_MM = 2.5      # no text on any screen has a smaller cap height than this
FALLBACK_DPI = 96.0   # when neither the settings nor the screen give a usable value
_PLAUSIBLE_DPI = (30.0, 600.0)  # a 55" 1080p display is ~40 ppi; a 4K 15" panel ~290

_DPI_PROPERTY = "hailong_screen_dpi"
_DIAGONAL_PROPERTY = "hailong_screen_diagonal_in"


# --- physical size ---------------------------------------------------------------------------------

def set_display(window: QWidget, *, screen_dpi: float | None = None, screen_diagonal_in: float | None = None) -> None:
    """Tell ``window`` (and every widget in it) the panel's true density.

    ``screen_dpi`` (pixels per inch, e.g. 149.5) wins over ``screen_diagonal_in`` (with the
    screen's pixel size). Both None: the screen's own report. Screens re-size themselves.
    """
    window.setProperty(_DPI_PROPERTY, float(screen_dpi) if screen_dpi else None)
    window.setProperty(_DIAGONAL_PROPERTY, float(screen_diagonal_in) if screen_diagonal_in else None)
    dpi, source = display_dpi(window)
    log.info("sizing the kiosk at %.1f ppi (%s): 15 mm = %d px", dpi, source, min_touch_px(window))
    for child in window.findChildren(QWidget):
        relayout = getattr(child, "relayout", None)
        if callable(relayout):
            relayout()


def _screen_pixels(widget: QWidget) -> tuple[float, float]:
    screen = widget.screen()
    if screen is not None:
        size = screen.size()
        return float(size.width()), float(size.height())
    top = widget.window()
    return float(top.width()), float(top.height())


def display_dpi(widget: QWidget | None) -> tuple[float, str]:
    """Device pixels per inch for ``widget``'s panel, and where the value came from."""
    if widget is None:
        return FALLBACK_DPI, "fallback"
    top = widget.window()
    dpi = top.property(_DPI_PROPERTY)
    if dpi:
        return float(dpi), "setting screen_dpi"
    diagonal = top.property(_DIAGONAL_PROPERTY)
    screen = widget.screen()
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    if diagonal:
        w, h = _screen_pixels(widget)
        return math.hypot(w * ratio, h * ratio) / float(diagonal), "setting screen_diagonal_in"
    if screen is not None:
        reported = screen.physicalDotsPerInch()
        if reported and _PLAUSIBLE_DPI[0] <= reported <= _PLAUSIBLE_DPI[1]:
            return float(reported), "screen report"
    return FALLBACK_DPI, "fallback"


def px_per_mm(widget: QWidget | None) -> float:
    """Logical pixels per millimetre on ``widget``'s panel: the one conversion every size goes through."""
    dpi, _ = display_dpi(widget)
    screen = widget.screen() if widget is not None else None
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    return dpi / (ratio or 1.0) / 25.4


def mm(widget: QWidget | None, millimetres: float) -> float:
    """``millimetres`` in ``widget``'s logical pixels."""
    return millimetres * px_per_mm(widget)


def to_mm(widget: QWidget | None, pixels: float) -> float:
    """``pixels`` of ``widget`` in millimetres on the glass."""
    return pixels / px_per_mm(widget)


def min_touch_px(widget: QWidget | None) -> int:
    """:data:`MIN_TOUCH_MM` in ``widget``'s logical pixels (true millimetres, see :func:`px_per_mm`)."""
    return math.ceil(mm(widget, MIN_TOUCH_MM))


_cap_ratios: dict[str, float] = {}


def cap_ratio(font: QFont) -> float:
    """Cap height / pixel size of ``font``'s family (~0.71 for Noto Sans)."""
    key = font.family()
    if key not in _cap_ratios:
        probe = QFont(font)
        probe.setPixelSize(200)
        cap = QFontMetricsF(probe).capHeight()
        _cap_ratios[key] = cap / 200 if cap > 0 else 0.7
    return _cap_ratios[key]


def cap_px(widget: QWidget, cap_mm: float, font: QFont | None = None) -> float:
    """The pixel size whose capital letters stand ``cap_mm`` millimetres tall."""
    return math.ceil(mm(widget, cap_mm) / cap_ratio(font or widget.font()))


def cap_height_mm(widget: QWidget, font: QFont) -> float:
    """The cap height of ``font`` on ``widget``'s panel, in millimetres."""
    return to_mm(widget, QFontMetricsF(font).capHeight())


def unit_of(widget: QWidget) -> float:
    """The size unit of ``widget``: its height, but never more than 0.625 × its width.

    Portrait (a tablet on its side): 0.8 × the width, so type is not tiny on a tall screen.
    """
    w, h = widget.width(), widget.height()
    if h > w:
        return float(min(w * 0.8, h * 0.625)) or 500.0
    return float(min(h, w * 0.625)) or 500.0


# --- type and labels -------------------------------------------------------------------------------

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


def label(text: str = "", colour: str = INK_HEX, *, wrap: bool = True, align=Qt.AlignmentFlag.AlignCenter) -> QLabel:
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
    pal.setColor(QPalette.ColorRole.Window, QColor(colour))
    widget.setPalette(pal)
