"""The base of every kiosk screen: a language, a text size, and sizes that follow the window.

Sizes have millimetre floors (:func:`kiosk.ui.style.px_per_mm`): a touch target is never under
15 mm and no text has a cap height under 2.5 mm, whatever the window's pixel count.
"""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QWidget

from kiosk.ui import style
from kiosk.ui.strings import DEFAULT_LANG, tr


class Screen(QWidget):
    """A full-window page of the kiosk. Subclasses fill :meth:`retranslate` and :meth:`relayout`.

    Screens only show things and emit signals; they never touch the store.
    """

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        style.fill(self, style.BACKGROUND)
        self.lang = DEFAULT_LANG
        self.text_scale = 1.0

    def fit_any_window(self) -> None:
        """Never ask the window to grow: the page sizes itself from the window instead.

        For pages that do (start, follow-up, messages). A hidden page of the stack keeps its old
        size until shown, and its layout must not push the window past the screen meanwhile.
        """
        self.setMinimumSize(1, 1)

    def tr(self, key: str, **values) -> str:
        return tr(key, self.lang, **values)

    def set_lang(self, lang: str) -> None:
        if lang != self.lang:
            self.lang = lang
            self.retranslate()
            self.relayout()

    def set_text_scale(self, scale: float) -> None:
        if scale != self.text_scale:
            self.text_scale = scale
            self.relayout()

    def unit(self) -> float:
        return style.unit_of(self)

    def mm(self, millimetres: float) -> float:
        """``millimetres`` on the glass, in this screen's pixels."""
        return style.mm(self, millimetres)

    def px(self, fraction: float, min_cap_mm: float = style.MIN_CAP_MM, *, grow: float = 1.0) -> float:
        """A type size: ``fraction`` of the unit (but capitals at least ``min_cap_mm`` tall), times the text scale.

        ``grow`` < 1 damps the larger-text mode for type that is large already (a question, a title).
        """
        scale = 1.0 + (self.text_scale - 1.0) * grow
        return max(self.unit() * fraction, style.cap_px(self, min_cap_mm)) * scale

    def touch(self, fraction: float, min_mm: float = style.MIN_TOUCH_MM) -> int:
        """A touch-target height: ``fraction`` of the unit, never under ``min_mm`` (at least 15 mm)."""
        floor = max(style.min_touch_px(self), int(self.mm(min_mm) + 0.999))
        return max(floor, int(self.unit() * fraction))

    def retranslate(self) -> None:
        """Set every text in :attr:`lang`."""

    def relayout(self) -> None:
        """Size type and targets for the current window size and text scale."""

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.relayout()
