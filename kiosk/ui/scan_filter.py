"""A USB barcode/QR scanner read without any text field: key presses from the whole application.

A scanner in keyboard mode types the code fast and ends with Enter. :class:`ScanFilter` is an
event filter on the application (beside :mod:`kiosk.ui.tap_guard`): while ``accepting()`` says so
(the window: the scan step is on and a start screen is current) it hands each key press of the
window to the Qt-free :class:`kiosk.dossier_scan.ScanAccumulator`, with the monotonic time it
arrived, and swallows it; a finished scan is emitted as :attr:`ScanFilter.sig_scanned`. Whatever
the keys were, no widget sees them then, so no text appears anywhere and no focused button is
pressed by a scanner's characters. Otherwise keys pass untouched (the admin screen's fields).

Each press is fed once: Qt offers a key event to the application's filters again for every parent
it propagates to, and swallowing it at the first widget ends that.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QWidget

from kiosk.dossier_scan import ScanAccumulator

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class ScanFilter(QObject):
    """Feeds the window's key presses to a :class:`ScanAccumulator` while ``accepting()``."""

    sig_scanned = Signal(str)
    """Fires when keystrokes at a scanner's speed ended with Enter; carries the scanned text.

    The text is the raw scan (the code, or a URL holding it): connect it to the logic that checks
    it (:meth:`kiosk.answering.Answering.attach_dossier`), never to a widget that shows it.
    """

    def __init__(self, window: QWidget, accepting: Callable[[], bool], *, monotonic: Callable[[], float] = time.monotonic,
                 accumulator: ScanAccumulator | None = None):
        super().__init__(window)
        self._window = window
        self._accepting = accepting
        self._monotonic = monotonic
        self.accumulator = accumulator or ScanAccumulator()

    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and (obj is self._window or self._window.isAncestorOf(obj))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.Type.KeyPress or not self._ours(obj):
            return False
        if not self._accepting():
            self.accumulator.reset()
            return False
        assert isinstance(event, QKeyEvent)
        now = self._monotonic()
        if event.isAutoRepeat():
            self.accumulator.reset()  # a key held down is a person (or something stuck), never a scan
            return True
        if event.key() in _ENTER:
            text = self.accumulator.enter(now)
            if text is not None:
                self.sig_scanned.emit(text)
            return True
        typed = event.text()
        if not typed:
            return False  # Shift (a scanner's capitals), Ctrl…: no character, and nothing to swallow
        self.accumulator.feed(typed, now)
        return True
