"""The admin screen's on-screen keyboards: one for a server address (a–z, 0–9, ``. : / - _``,
shift, and shortcut keys for ``https://``, ``.gov.vn`` and ``.vn``), one for an enrolment code.

The keys flow into as many columns as fit the width given to :meth:`UrlKeyboard.size_to`, each
at least :func:`kiosk.ui.style.min_touch_px` wide and high (15 mm), so the same keyboard works
on a 1920×1080 screen and an 800×1280 tablet held upright. Each group (shortcuts and symbols,
digits, letters, shift and backspace) starts on a new row.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from kiosk.ui import style
from kiosk.ui.keypad import BACKSPACE
from kiosk.ui.widgets import BigButton

SHIFT = "⇧"
SHORTCUTS = ("https://", "http://", ".gov.vn", ".vn")
SYMBOLS = (".", ":", "/", "-", "_")
DIGITS = tuple("1234567890")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
GROUPS: tuple[tuple[str, ...], ...] = (SHORTCUTS + SYMBOLS, DIGITS, LETTERS, (SHIFT, BACKSPACE))

# How many columns a key spans (the rest span one).
SPANS = {"https://": 3, "http://": 3, ".gov.vn": 2, ".vn": 2, SHIFT: 2, BACKSPACE: 2}


CODE_GROUPS: tuple[tuple[str, ...], ...] = (tuple("ABCDEFGHJKMNPQRSTUVWXYZ"), tuple("23456789") + ("-", BACKSPACE))
"""Enrolment codes: no 0/O, 1/I/L (the server never makes them)."""

_NAMES = {SHIFT: "shift", BACKSPACE: "back", ".": "dot", ":": "colon", "/": "slash", "-": "dash", "_": "underscore",
          "https://": "https", "http://": "http", ".gov.vn": "gov_vn", ".vn": "vn"}


class FlowKeyboard(QWidget):
    """Keys in groups that flow into as many columns as fit; emits what each key types, or ``⌫``.

    With a shift key (:data:`SHIFT` in a group), shift makes the next letter upper case, then
    lets go; it never changes digits or symbols.
    """

    sig_key = Signal(str)
    """Fires on every key tap except shift; carries the text to insert (``h``, ``https://``…) or ``⌫``."""

    def __init__(self, groups: tuple[tuple[str, ...], ...], prefix: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.groups = groups
        self.keys: dict[str, BigButton] = {}
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._columns = 0
        for group in groups:
            for key in group:
                button = BigButton(key, "primary" if key in SHORTCUTS else "secondary", checkable=key == SHIFT)
                button.setObjectName(f"{prefix}{_NAMES.get(key, key)}")
                # Ignored width: the columns (from the width given) size the keys, so the keyboard
                # never holds a window wider than the screen it was last sized for.
                button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
                if key == SHIFT:
                    button.toggled.connect(self._on_shift)
                else:
                    button.clicked.connect(lambda _=False, k=key: self._on_key(k))
                self.keys[key] = button
        self._place(10)

    @property
    def shifted(self) -> bool:
        return SHIFT in self.keys and self.keys[SHIFT].isChecked()

    def _on_shift(self, on: bool) -> None:
        for key, button in self.keys.items():
            if len(key) == 1 and key.isalpha():
                button.setText(key.upper() if on else key.lower())

    def _on_key(self, key: str) -> None:
        if self.shifted and len(key) == 1 and key.isalpha():
            key = key.upper()
            self.keys[SHIFT].setChecked(False)
        self.sig_key.emit(key)

    def _place(self, columns: int) -> None:
        """Lay the keys out in ``columns`` columns, each group from a new row."""
        if columns == self._columns:
            return
        self._columns = columns
        for button in self.keys.values():
            self._grid.removeWidget(button)
        row = 0
        for group in self.groups:
            col = 0
            for key in group:
                span = min(SPANS.get(key, 1), columns)
                if col + span > columns:
                    row, col = row + 1, 0
                self._grid.addWidget(self.keys[key], row, col, 1, span)
                col += span
            row += 1
        for c in range(self._grid.columnCount()):
            self._grid.setColumnStretch(c, 1 if c < columns else 0)

    def columns(self) -> int:
        return self._columns

    def size_to(self, width: int, key_h: int, px: float, gap: int) -> None:
        """Fit ``width`` pixels: keys ``key_h`` high (at least 15 mm) and as many columns as fit."""
        key = max(style.min_touch_px(self), key_h)
        columns = max(4, min(13, (width + gap) // (key + gap)))
        self._grid.setSpacing(gap)
        self._place(columns)
        for button in self.keys.values():
            button.size_to(px, key)
            button.setMinimumWidth(0)


class UrlKeyboard(FlowKeyboard):
    """Types a server address: a–z (shift for A–Z), 0–9, ``. : / - _``, ``https://``, ``.gov.vn``, ``.vn``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(GROUPS, "url_key_", parent)
        self.setObjectName("url_keyboard")


class CodeKeyboard(FlowKeyboard):
    """Types an enrolment code: the letters and digits the server uses, ``-`` and ``⌫``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(CODE_GROUPS, "key_", parent)
        self.setObjectName("code_keyboard")
