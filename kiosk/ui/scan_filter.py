"""A USB barcode/QR scanner read without any text field: key presses from the whole application.

A scanner in keyboard mode types the code fast and ends with Enter. :class:`ScanFilter` is an
event filter on the application (beside :mod:`kiosk.ui.tap_guard`): while ``accepting()`` says so
(the window: the scan step is on and a start screen is current) it hands each key press of the
window to the Qt-free :class:`kiosk.dossier_scan.ScanAccumulator`, with the time the key was
pressed, and swallows it; a finished scan is emitted as :attr:`ScanFilter.sig_scanned`. Whatever
the keys were, no widget sees them then, so no text appears anywhere and no focused button is
pressed by a scanner's characters. Otherwise keys pass untouched (the admin screen's fields).

The time of a key is the event's own timestamp (``QKeyEvent.timestamp()``, milliseconds, set by
the platform when the input arrived: X11, Wayland, evdev), not the time it is handled: if the UI
thread stalls after a scan's first key (a first paint, a slow commit, a garbage collection), the
other keys wait in the queue and are handled late, but their stamps stay a scanner's few
milliseconds apart, so the stall cannot split a scan. Only an event without a stamp (0: built by
hand, some test paths) is timed by the monotonic clock when handled. The two scales are never
mixed in one burst: a key on the other scale starts afresh.

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
        self._stamped: bool | None = None  # the previous key's scale: the event's stamp, or the monotonic clock

    def _pressed_at(self, event: QKeyEvent) -> float:
        """When the key was pressed, in seconds: its own stamp if the platform set one, else now.

        A stamp is only compared with stamps (their zero is the platform's, not ours); when the scale
        changes between two keys the accumulator starts afresh rather than take a meaningless gap.
        A stamp that went backwards (a 32-bit X11/Wayland stamp wrapping after 49 days) is a slow
        gap for the accumulator, so it starts afresh as well.
        """
        stamp = event.timestamp()
        stamped = stamp > 0
        if self._stamped is not None and stamped != self._stamped:
            self.accumulator.reset()
        self._stamped = stamped
        return stamp / 1000.0 if stamped else self._monotonic()

    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and (obj is self._window or self._window.isAncestorOf(obj))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.Type.KeyPress or not self._ours(obj):
            return False
        if not self._accepting():
            self.accumulator.reset()
            return False
        assert isinstance(event, QKeyEvent)
        now = self._pressed_at(event)
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
