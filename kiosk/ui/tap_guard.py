"""Taps that land just after a screen change are ignored: a double-tap never answers the next screen.

A citizen of seventy double-taps a face 100–400 ms apart; without this the second tap lands on
whatever the next screen puts under the finger (a reason chip, the thank-you that dismisses).
:class:`TapGuard` is an event filter on the application: for ``guard_s`` after :meth:`arm` (the
window arms it on every screen change) it swallows presses and double-clicks (mouse and touch)
aimed at the window, and the release of any press it swallowed, so no button ever sees half a
click. A press that began before the change keeps its release (it belongs to the old screen).
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

_PRESSES = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.TouchBegin)
_RELEASES = (QEvent.Type.MouseButtonRelease, QEvent.Type.TouchEnd, QEvent.Type.TouchUpdate, QEvent.Type.TouchCancel)


class TapGuard(QObject):
    """Swallows taps on ``window`` during ``guard_s`` after each :meth:`arm`."""

    def __init__(self, window: QWidget, guard_s: float, *, monotonic: Callable[[], float] = time.monotonic):
        super().__init__(window)
        self._window = window
        self.guard_s = max(0.0, guard_s)
        self._monotonic = monotonic
        self._until = 0.0
        self._swallowing = False
        self.ignored = 0  # taps swallowed so far (the replay benchmark reads it)

    def arm(self) -> None:
        """A new screen is current: ignore taps for the guard time from now."""
        self._until = self._monotonic() + self.guard_s

    def guarding(self) -> bool:
        return self._monotonic() < self._until

    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and (obj is self._window or self._window.isAncestorOf(obj))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind in _PRESSES:
            if self._ours(obj) and self.guarding():
                if kind != QEvent.Type.MouseButtonDblClick:
                    self.ignored += 1
                self._swallowing = True
                return True
            self._swallowing = False
            return False
        if kind in _RELEASES and self._swallowing and self._ours(obj):
            if kind != QEvent.Type.TouchUpdate:
                self._swallowing = False
            return True
        return False
