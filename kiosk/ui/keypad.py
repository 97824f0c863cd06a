"""On-screen keypads: digits for PINs (officers, admin), letters and digits for an enrolment code.

No physical keyboard is needed anywhere on the kiosk; the admin screen also accepts typing for
IT staff who plug one in.

The PIN pad puts its ten digits in a new random order each time it opens
(:func:`kiosk.pins.shuffled_digits`; backspace and OK stay in their corners), so someone watching
over a shoulder learns finger positions, not digits. While a PIN is being checked (off the UI
thread, :mod:`kiosk.ui.pin_check`) the pad says "Đang kiểm tra…" and takes no keys.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.pins import PIN_MAX, shuffled_digits
from kiosk.ui import style
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import Avatar, BigButton

BACKSPACE = "⌫"
_WARNING = "#9A3412"  # wrong PIN, locked


class Keypad(QWidget):
    """A grid of keys; emits each key's character, ``BACKSPACE``, or ``ok``."""

    sig_key = Signal(str)
    """Fires on every key tap; carries the character, ``⌫`` for backspace, or ``ok``."""

    def __init__(self, rows: list[str], columns: int, *, ok_text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.keys: dict[str, BigButton] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self._grid = grid
        self._columns = columns
        self._order: list[str] = []
        for key in rows:
            kind = "primary" if key == "ok" else "secondary"
            button = BigButton(ok_text if key == "ok" else key, kind)
            button.setObjectName(f"key_{'back' if key == BACKSPACE else key}")
            button.clicked.connect(lambda _=False, k=key: self.sig_key.emit(k))
            self.keys[key] = button
        self.arrange(rows)

    def arrange(self, order: list[str]) -> None:
        """Place the keys in ``order`` (the same keys, row by row). A key keeps its button and name."""
        if sorted(order) != sorted(self.keys):
            raise ValueError("arrange() takes the keypad's own keys")
        for button in self.keys.values():
            self._grid.removeWidget(button)
        for position, key in enumerate(order):
            self._grid.addWidget(self.keys[key], position // self._columns, position % self._columns)
        self._order = list(order)

    def order(self) -> list[str]:
        """The keys as placed, row by row."""
        return list(self._order)

    def size_to(self, key_h: int, px: float, gap: int) -> None:
        self._grid.setSpacing(gap)
        for button in self.keys.values():
            button.size_to(px, key_h)
            button.setSizePolicy(button.sizePolicy().horizontalPolicy(), button.sizePolicy().verticalPolicy())


def digit_layout(digits: list[str]) -> list[str]:
    """The PIN pad's 4×3 order for ``digits`` (ten): nine, then backspace, the tenth, OK."""
    return list(digits[:9]) + [BACKSPACE, digits[9], "ok"]


def digit_keypad(ok_text: str) -> Keypad:
    return Keypad(digit_layout(list("1234567890")), 3, ok_text=ok_text)


def code_keyboard() -> Keypad:
    """Letters and digits of enrolment codes (no 0/O, 1/I/L: the server never makes them)."""
    return Keypad(list("ABCDEFGHJKMNPQRSTUVWXYZ23456789") + ["-", BACKSPACE], 11)


class PinScreen(Screen):
    """A title (whose PIN), dots for the digits typed, a message line, the keypad and "Huỷ"."""

    sig_pin_entered = Signal(str)
    """Fires when OK is tapped with at least one digit; carries the PIN (never stored or logged)."""

    sig_cancelled = Signal()
    """Fires when "Huỷ" is tapped."""

    def __init__(self, parent: QWidget | None = None, *, rng: random.Random | None = None):
        super().__init__("pin_screen", parent)
        self.purpose = ""
        self.generation = 0
        """Counts :meth:`open` calls: a PIN result from an earlier opening is stale."""
        self.checking = False
        self._rng = rng  # None: a fresh SystemRandom per shuffle
        self._enabled = True
        self._pin = ""
        self._title = ""
        self.avatar = Avatar()
        self.title_label = style.label()
        self.title_label.setObjectName("pin_title")
        self.dots_label = style.label()
        self.dots_label.setObjectName("pin_dots")
        self.message_label = style.label(colour=_WARNING)
        self.message_label.setObjectName("pin_message")
        self.keypad = digit_keypad(self.tr("ok"))
        self.keypad.setObjectName("pin_keypad")
        self.cancel_button = BigButton("", "secondary")
        self.cancel_button.setObjectName("cancel_button")

        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.avatar)
        top.addWidget(self.title_label)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(top)
        layout.addWidget(self.dots_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.keypad, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.keypad.sig_key.connect(self._on_key)
        self.cancel_button.clicked.connect(self.sig_cancelled)
        self.retranslate()

    def open(self, purpose: str, title: str, *, officer: dict | None = None, message: str = "", enabled: bool = True) -> None:
        """Ready the pad for ``purpose`` (``sign_in``, ``hand_over``, ``sign_out``, ``admin``) under
        ``title``, with the digits in a new random order."""
        self.purpose = purpose
        self.generation += 1
        self._title = title
        self._pin = ""
        self.title_label.setText(title)
        self.avatar.setVisible(officer is not None)
        if officer is not None:
            self.avatar.set_officer(officer.get("name", ""), officer.get("photo"))
        self.keypad.arrange(digit_layout(shuffled_digits(self._rng)))
        self._enabled = enabled
        self.set_checking(False, message)
        self._show_dots()

    def set_checking(self, on: bool, message: str = "") -> None:
        """While on, the pad shows ``message`` ("Đang kiểm tra…") and takes no key (nor a second OK).

        "Huỷ" stays: cancelling makes the pending result stale, and the window ignores it.
        """
        self.checking = on
        self.keypad.setEnabled(self._enabled and not on)
        # A calm colour while checking; the warning colour is for wrong PINs and lock-outs.
        self.message_label.setStyleSheet(f"color: {style.ACCENT if on else _WARNING}; background: transparent;")
        self.show_message(message)

    def digit_order(self) -> list[str]:
        """The ten digits as the pad shows them now, row by row."""
        return [k for k in self.keypad.order() if k.isdigit()]

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)

    def clear(self) -> None:
        self._pin = ""
        self._show_dots()

    def _show_dots(self) -> None:
        self.dots_label.setText(" ".join("●" for _ in self._pin) if self._pin else "·  ·  ·  ·")

    def _on_key(self, key: str) -> None:
        if self.checking or not self._enabled:
            return  # a PIN is being checked (or the pad is shut): keys wait for the answer
        if key == BACKSPACE:
            self._pin = self._pin[:-1]
        elif key == "ok":
            if self._pin:
                pin, self._pin = self._pin, ""
                self._show_dots()
                self.sig_pin_entered.emit(pin)
                return
        elif len(self._pin) < PIN_MAX:
            self._pin += key
        self._show_dots()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        # A plugged-in keyboard may type digits too; other keys do nothing here.
        text = event.text()
        if text.isdigit():
            self._on_key(text)
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._on_key("ok")
        elif event.key() == Qt.Key.Key_Backspace:
            self._on_key(BACKSPACE)
        event.accept()

    def retranslate(self) -> None:
        self.cancel_button.setText(self.tr("cancel"))
        self.keypad.keys["ok"].setText(self.tr("ok"))

    def relayout(self) -> None:
        unit = self.unit()
        key_h = self.touch(0.11)
        self.keypad.size_to(key_h, self.px(0.045), int(unit * 0.018))
        for b in self.keypad.keys.values():
            b.setFixedWidth(int(key_h * 1.7))
        self.keypad.keys["ok"].size_to(self.px(0.034), key_h)
        self.keypad.keys["ok"].setFixedWidth(int(key_h * 1.7))
        self.avatar.setFixedSize(int(unit * 0.1), int(unit * 0.1))
        style.set_px(self.title_label, self.px(0.045), bold=True)
        style.set_px(self.dots_label, self.px(0.06), bold=True)
        style.set_px(self.message_label, self.px(0.032), bold=True)
        self.cancel_button.size_to(self.px(0.034), key_h)
        self.cancel_button.setMinimumWidth(int(key_h * 3))
        for lab in (self.title_label, self.message_label):
            lab.setMaximumWidth(int(self.width() * 0.9))
