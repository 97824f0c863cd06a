"""The base of every kiosk screen: a language, a text size, and sizes that follow the window."""

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

    def px(self, fraction: float) -> float:
        """A type size: ``fraction`` of the unit, times the text scale."""
        return self.unit() * fraction * self.text_scale

    def touch(self, fraction: float) -> int:
        """A touch-target height: ``fraction`` of the unit, never under the touch minimum."""
        return max(style.min_touch_px(self), int(self.unit() * fraction))

    def retranslate(self) -> None:
        """Set every text in :attr:`lang`."""

    def relayout(self) -> None:
        """Size type and targets for the current window size and text scale."""

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.relayout()
