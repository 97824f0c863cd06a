"""PIN checks for officers and the admin screen, offline, with Argon2id hashes. No Qt.

Admin PIN, decided:

- the config's ``settings.admin_pin_hash`` (set by the province) wins when present;
- else a local hash in the store's meta (``local_admin_pin_hash``), set on the kiosk with
  ``hailong-kiosk set-admin-pin`` (the PIN is read from the terminal, never from argv);
- else, **only on a kiosk that is not enrolled**, the default PIN :data:`DEFAULT_ADMIN_PIN` opens
  the admin screen, so IT staff can enrol a fresh kiosk from its own screen. An enrolled kiosk
  with no admin PIN anywhere has no admin screen at all: the gesture shows a notice saying to
  run ``set-admin-pin`` (an enrolled kiosk must never open with a PIN printed in the manual).

Wrong PINs are rate-limited (:class:`PinGuard`): after :data:`MAX_FAILURES` failures in a row
the pad refuses every try for :data:`LOCKOUT_S` seconds, so a 4-digit PIN cannot be walked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hailong_core.config import kiosk_settings

DEFAULT_ADMIN_PIN = "000000"
MAX_FAILURES = 5
LOCKOUT_S = 120.0
PIN_MIN, PIN_MAX = 4, 12

_hasher = PasswordHasher()


def hash_pin(pin: str) -> str:
    """An Argon2id encoded hash of ``pin`` (what the config and the store keep)."""
    return _hasher.hash(pin)


def valid_pin_format(pin: str) -> bool:
    """4 to 12 digits: what the on-screen keypad can type."""
    return pin.isascii() and pin.isdigit() and PIN_MIN <= len(pin) <= PIN_MAX


def verify_pin(pin_hash: str | None, pin: str) -> bool:
    """True when ``pin`` matches ``pin_hash``; False for a mismatch or a missing/garbled hash."""
    if not pin_hash or not pin:
        return False
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass
class PinGuard:
    """Counts wrong PINs in a row; locks the pad for ``lockout_s`` after ``max_failures``."""

    max_failures: int = MAX_FAILURES
    lockout_s: float = LOCKOUT_S
    monotonic: Callable[[], float] = time.monotonic
    failures: int = 0
    locked_until: float = field(default=0.0)

    def locked_for(self) -> float:
        """Seconds left of a lockout (0 when the pad may be used)."""
        return max(0.0, self.locked_until - self.monotonic())

    def check(self, verify: Callable[[], bool]) -> bool:
        """Run ``verify()`` unless locked; count the result. Returns False while locked."""
        if self.locked_for() > 0:
            return False
        if verify():
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= self.max_failures:
            self.failures = 0
            self.locked_until = self.monotonic() + self.lockout_s
        return False


@dataclass(frozen=True)
class AdminPin:
    """Where the admin PIN comes from: ``source`` is ``config``, ``local``, ``default`` or ``none``."""

    source: str
    pin_hash: str | None = None

    def verify(self, pin: str) -> bool:
        if self.source == "default":
            return pin == DEFAULT_ADMIN_PIN
        return verify_pin(self.pin_hash, pin)


def admin_pin(config: dict | None, local_hash: str | None, enrolled: bool) -> AdminPin:
    """Resolve the admin PIN by the rule in this module's docstring."""
    from_config = kiosk_settings(config).get("admin_pin_hash")
    if from_config:
        return AdminPin("config", from_config)
    if local_hash:
        return AdminPin("local", local_hash)
    if not enrolled:
        return AdminPin("default")
    return AdminPin("none")
