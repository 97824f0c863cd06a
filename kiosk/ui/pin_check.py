"""PIN checks off the UI thread: Argon2id takes about half a second, the screen must not freeze.

:class:`PinChecker` runs a Qt-free :class:`kiosk.pins.PinCheck` on a private one-thread pool and
reports back by :attr:`PinChecker.sig_pin_checked`, on the UI thread. The check never touches a
widget or the store: the window applies the verdict (guard, session) on its own thread, and only
if the ticket is still the one it waits for (the screen may have changed meanwhile).

Not the sync worker (:mod:`kiosk.ui.worker`): a sync round may wait on the network for its whole
timeout, and an officer's PIN must not queue behind it.
"""

from __future__ import annotations

import functools
import itertools
import logging

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from kiosk.pins import PinCheck, PinVerdict

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries a result out of the pool thread. Parentless and held by the jobs too, so it outlives
    a checker deleted while a check still runs (Qt then drops the queued call to the dead receiver)."""

    sig_done = Signal(int, object)


class PinChecker(QObject):
    """Verifies PINs one at a time off the UI thread; :meth:`submit` returns at once with a ticket."""

    sig_pin_checked = Signal(int, object)
    """Fires on the UI thread when a check from :meth:`submit` ended.

    Carries its ticket and the :class:`kiosk.pins.PinVerdict` (guard key, ``ok``, ``error``);
    never the PIN. A check that raised gives ``ok=False`` with ``error`` set (and is logged).
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tickets = itertools.count(1)
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(1)  # one check at a time; the pad waits for its answer anyway
        self._relay = _Relay()
        self._relay.sig_done.connect(self._on_done)  # queued: emitted from the pool thread

    def submit(self, check: PinCheck, pin: str) -> int:
        """Start verifying ``pin`` by ``check``; returns the ticket its result will carry."""
        ticket = next(self._tickets)
        self._pool.start(functools.partial(_run, self._relay, ticket, check, pin))
        return ticket

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Wait for running checks to end (shutdown, tests); True when none is left."""
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object)
    def _on_done(self, ticket: int, verdict: PinVerdict) -> None:
        self.sig_pin_checked.emit(ticket, verdict)


def _run(relay: _Relay, ticket: int, check: PinCheck, pin: str) -> None:
    """The pool thread's part: verify, then hand the verdict to the relay. Touches nothing else."""
    try:
        verdict = check.run(pin)
    except Exception as exc:  # noqa: BLE001 - a broken check must still answer the pad
        log.exception("PIN check failed (%s)", check.key)
        verdict = PinVerdict(check.key, False, error=f"{type(exc).__name__}: {exc}")
    try:
        relay.sig_done.emit(ticket, verdict)
    except RuntimeError:  # the relay's C++ side is gone: the app is closing
        log.debug("PIN check result dropped at shutdown (%s)", check.key)
