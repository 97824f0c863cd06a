"""PIN checks for officers and the admin screen, offline, with Argon2id hashes. No Qt.

Admin PIN, decided:

- the config's ``settings.admin_pin_hash`` (set by the province) wins when present;
- else a local hash in the store's meta (``local_admin_pin_hash``), set on the kiosk with
  ``hailong-kiosk set-admin-pin`` (the PIN is read from the terminal, never from argv);
- else, **only on a kiosk that is not enrolled**, the default PIN :data:`DEFAULT_ADMIN_PIN` opens
  the admin screen, so IT staff can enrol a fresh kiosk from its own screen. An enrolled kiosk
  with no admin PIN anywhere has no admin screen at all: the gesture shows a notice saying to
  run ``set-admin-pin`` (an enrolled kiosk must never open with a PIN printed in the manual).

Wrong PINs are rate-limited per key (:class:`PinGuard`): each officer (``officer:<id>``) and the
admin PIN (``admin``) have their own count, so five wrong tries at officer A's PIN lock only A
(B still signs in, and a prankster cannot lock every officer out at once). After
:data:`MAX_FAILURES` wrong PINs in a row a key is locked for :data:`LOCKOUT_S` seconds; each
further lock-out without a correct PIN in between doubles, up to :data:`MAX_LOCKOUT_S`, so a
4-digit PIN cannot be walked overnight (5 tries per 30 min is about 40 days for 10,000 PINs).
A correct PIN forgets the key's history.

The guard's state may be kept in the store (see :func:`kiosk.session.stored_guard`): a public
kiosk's power plug is within reach and the watchdog restarts a crashed app, so a lock kept in
memory only would end with a reboot. Within one boot the lock runs on the monotonic clock;
after a reboot (another boot id) the wall clock says how much of it is left, never more than
the lock's own length (a clock set back cannot lock anyone for a day).

A check is split so the slow part can run off the UI thread: :class:`PinCheck` (what to verify,
under which key; safe on any thread) gives a :class:`PinVerdict`, which the guard then admits on
the caller's thread (:meth:`PinGuard.admit`). :func:`shuffled_digits` orders the on-screen
keypad anew each time it opens, so a watcher cannot learn a PIN from finger positions.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from dataclasses import InitVar, asdict, dataclass, field
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hailong_core.config import kiosk_settings
from kiosk.store import BootClock, boot_stamp

log = logging.getLogger(__name__)

DEFAULT_ADMIN_PIN = "000000"
MAX_FAILURES = 5
LOCKOUT_S = 120.0
MAX_LOCKOUT_S = 30 * 60.0
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


def officer_key(officer_id: str) -> str:
    """The guard key of an officer's PIN (a prefix, so no officer id can be ``admin``)."""
    return f"officer:{officer_id}"


ADMIN_KEY = "admin"
"""The guard key of the admin PIN."""


def shuffled_digits(rng: random.Random | None = None) -> list[str]:
    """The ten digits in a new random order (``secrets``-grade randomness unless ``rng`` is given)."""
    digits = list("0123456789")
    (rng or random.SystemRandom()).shuffle(digits)
    return digits


@dataclass(frozen=True)
class PinVerdict:
    """The outcome of one :class:`PinCheck`: under which guard key, and whether the PIN matched.

    It carries no PIN. ``error`` is set when the check itself failed (it then counts as wrong).
    """

    key: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class PinCheck:
    """One PIN to verify under a guard ``key``; ``verify(pin)`` is pure, so :meth:`run` may run on
    any thread (Argon2id takes about half a second: never on the UI thread)."""

    key: str
    verify: Callable[[str], bool]

    def run(self, pin: str) -> PinVerdict:
        return PinVerdict(self.key, bool(self.verify(pin)))


def officer_check(officer: dict) -> PinCheck:
    """The check of ``officer``'s PIN (a roster entry with ``id`` and ``pin_hash``)."""
    return PinCheck(officer_key(officer["id"]), functools.partial(verify_pin, officer.get("pin_hash")))


@dataclass
class _Strikes:
    failures: int = 0       # wrong PINs in a row since the last lock-out or correct PIN
    locks: int = 0          # lock-outs in a row without a correct PIN (the next one is longer)
    lock_s: float = 0.0     # length of the current (or last) lock-out
    until_ms: int = 0       # its end on this boot's monotonic clock (0: not locked)
    until_wall: float = 0.0  # its end on the wall clock, for after a reboot
    boot: str = ""


@dataclass
class PinGuard:
    """Counts wrong PINs per key; locks a key after ``max_failures`` in a row.

    ``boot_clock`` gives ``(boot id, monotonic ms)`` (:func:`kiosk.store.boot_stamp`), ``wall``
    the wall clock in epoch seconds; ``save`` (optional) is called with :meth:`state` after every
    change, ``state`` restores one (see the module docstring for how a reboot is handled).
    """

    max_failures: int = MAX_FAILURES
    lockout_s: float = LOCKOUT_S
    max_lockout_s: float = MAX_LOCKOUT_S
    boot_clock: BootClock = boot_stamp
    wall: Callable[[], float] = time.time
    save: Callable[[dict], None] | None = None
    state: InitVar[dict | None] = None
    _keys: dict[str, _Strikes] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self, state: dict | None) -> None:
        boot, now_ms = self.boot_clock()
        for key, raw in (state or {}).items():
            try:
                strikes = _Strikes(**raw)
            except TypeError:
                continue  # an entry of another version: forget it
            if strikes.until_ms and strikes.boot != boot:
                # Another boot: its monotonic clock means nothing here; the wall clock says what
                # is left, never more than the lock's own length.
                left = min(max(0.0, strikes.until_wall - self.wall()), strikes.lock_s)
                strikes.until_ms = now_ms + int(left * 1000) if left > 0 else 0
                strikes.boot = boot
            self._keys[key] = strikes

    def state_dict(self) -> dict:
        """The guard's state as JSON-able data (what ``save`` receives)."""
        return {key: asdict(s) for key, s in self._keys.items()}

    def locked_for(self, key: str) -> float:
        """Seconds left of ``key``'s lock-out (0 when it may be tried)."""
        strikes = self._keys.get(key)
        if strikes is None or not strikes.until_ms:
            return 0.0
        boot, now_ms = self.boot_clock()
        if strikes.boot != boot:
            return 0.0
        return max(0.0, (strikes.until_ms - now_ms) / 1000)

    def admit(self, verdict: PinVerdict) -> bool:
        """Count ``verdict``; True when it opens (right PIN, key not locked). A locked key counts nothing."""
        if self.locked_for(verdict.key) > 0:
            return False
        if verdict.ok:
            if self._keys.pop(verdict.key, None) is not None:
                self._saved()
            return True
        strikes = self._keys.setdefault(verdict.key, _Strikes())
        strikes.failures += 1
        if strikes.failures >= self.max_failures:
            strikes.failures = 0
            strikes.locks += 1
            strikes.lock_s = min(self.lockout_s * 2 ** min(strikes.locks - 1, 16), max(self.lockout_s, self.max_lockout_s))
            boot, now_ms = self.boot_clock()
            strikes.boot, strikes.until_ms = boot, now_ms + int(strikes.lock_s * 1000)
            strikes.until_wall = self.wall() + strikes.lock_s
            log.warning("PIN locked for %.0f s after %d wrong tries (%s)", strikes.lock_s, self.max_failures, verdict.key)
        self._saved()
        return False

    def check(self, key: str, verify: Callable[[], bool]) -> bool:
        """Run ``verify()`` unless ``key`` is locked, and count the result (all on this thread)."""
        if self.locked_for(key) > 0:
            return False
        return self.admit(PinVerdict(key, bool(verify())))

    def _saved(self) -> None:
        if self.save is not None:
            self.save(self.state_dict())


@dataclass(frozen=True)
class AdminPin:
    """Where the admin PIN comes from: ``source`` is ``config``, ``local``, ``default`` or ``none``."""

    source: str
    pin_hash: str | None = None

    def verify(self, pin: str) -> bool:
        """True when ``pin`` opens the admin screen (slow for a hash: see :meth:`check`)."""
        if self.source == "none":
            return False
        if self.source == "default":
            return pin == DEFAULT_ADMIN_PIN
        return verify_pin(self.pin_hash, pin)

    def check(self) -> PinCheck:
        """The admin PIN as a :class:`PinCheck` under :data:`ADMIN_KEY`."""
        return PinCheck(ADMIN_KEY, self.verify)


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
