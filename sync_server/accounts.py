"""People: roles and scopes, Argon2id hashes for passwords and PINs, sessions, login throttling.

No SQL here: everything goes through :class:`sync_server.storage.Storage`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sync_server.scopes import viewer_scope
from sync_server.storage import Storage, User

ROLES = ("province_admin", "province_analyst", "district_viewer", "commune_viewer")
# A viewer's unit must be of this level (districts' viewers see the district and its communes).
ROLE_UNIT_LEVEL = {"district_viewer": "district", "commune_viewer": "commune"}
PROVINCE_ROLES = frozenset(("province_admin", "province_analyst"))
# Officer-level results (and officer ids beside answers) are personnel evaluation: the province and
# district leaders, not peers at the commune. Pages, exports and the pull API all ask this set.
OFFICER_ROLES = frozenset(("province_admin", "province_analyst", "district_viewer"))

_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile
# A kiosk admin PIN is a few digits and its hash travels to the unit's kiosks, so an offline guess
# must cost more than a password's: 4 passes over 128 MiB (~2.6× the CPU of the defaults, about
# 0.6 CPU-s a guess; see docs/server-admin.md). The kiosk verifies it in ~0.4 s, once per entry.
_pin_hasher = PasswordHasher(time_cost=4, memory_cost=128 * 1024, parallelism=4)
PIN_RE = re.compile(r"^[0-9]{4,8}$")


class AccountError(ValueError):
    """A bad username, password, role or unit; the message says which."""


def hash_secret(secret: str) -> str:
    """Argon2id encoded hash (``$argon2id$v=19$...``) of a password or PIN."""
    return _hasher.hash(secret)


def hash_admin_pin(pin: str) -> str:
    """Argon2id hash of a kiosk admin PIN, at the higher cost above (verifiable by any Argon2id verifier)."""
    return _pin_hasher.hash(pin)


def check_admin_pin(pin: str) -> str:
    """A unit's kiosk admin PIN: 6 to 8 digits (the kiosk's keypad types digits only)."""
    if not re.fullmatch(r"[0-9]{6,8}", pin or ""):
        raise AccountError("a kiosk admin PIN is 6 to 8 digits")
    return pin


def verify_secret(encoded: str, secret: str) -> bool:
    try:
        return _hasher.verify(encoded, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash to verify against when the username is unknown, so both answers take the same time.
_DUMMY_HASH: str | None = None


def dummy_verify(secret: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_secret(secrets.token_hex(8))
    verify_secret(_DUMMY_HASH, secret)


def check_pin(pin: str) -> str:
    if not PIN_RE.match(pin or ""):
        raise AccountError("a PIN is 4 to 8 digits")
    return pin


def check_new_user(storage: Storage, username: str, password: str, role: str, unit_code: str | None,
                   min_length: int) -> None:
    """Refuse a bad account before it is stored."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,63}", username or ""):
        raise AccountError("username: 2–64 lower-case letters, digits, '.', '_' or '-'")
    check_password(password, min_length)
    check_role_unit(storage, role, unit_code)


def check_password(password: str, min_length: int) -> None:
    if len(password or "") < min_length:
        raise AccountError(f"the password needs at least {min_length} characters")


def check_role_unit(storage: Storage, role: str, unit_code: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role in PROVINCE_ROLES:
        if unit_code:
            raise AccountError(f"a {role} sees the whole province: give no unit")
        return
    unit = storage.unit(unit_code) if unit_code else None
    if unit is None:
        raise AccountError(f"a {role} needs --unit with a known unit code")
    if unit["level"] != ROLE_UNIT_LEVEL[role]:
        raise AccountError(f"a {role} needs a {ROLE_UNIT_LEVEL[role]} unit; {unit_code} is a {unit['level']}")


def scope_codes(storage: Storage, user: User) -> set[str] | None:
    """What the user may see (:class:`sync_server.scopes.Scope`), or None for the whole province.

    A viewer sees their unit's versions and subtree, and the unit versions that went into those
    (their history is the new unit's history); a code reused with another meaning is not theirs.
    """
    if user.role in PROVINCE_ROLES:
        return None
    return viewer_scope(storage, user.unit_code)


def in_scope(scope: set[str] | None, unit_code: str | None) -> bool:
    return scope is None or unit_code in scope


# --- sessions and throttling --------------------------------------------------------------------

def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    cookie_value: str
    csrf: str
    expires_ms: int


def open_session(storage: Storage, user: User, ttl_s: float, ip: str | None, now_ms: int | None = None) -> NewSession:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = now_ms + int(ttl_s * 1000)
    storage.create_session(session_digest(session_id), user.id, csrf, now_ms, expires, ip)
    return NewSession(session_id, csrf, expires)


# Throttling never lets someone else's failures refuse a correct password (a lock-out per username
# would let anyone keep the province admin out). Failures count three ways within the window:
#   pair:ADDRESS/USERNAME — this client on this account: refused at ``max_failures``;
#   ip:ADDRESS            — this client on any account: refused at ``address_max_failures``
#                           (wider: one office behind one NAT address has many people);
#   user:USERNAME         — everyone on this account: never refuses; beyond ``max_failures`` each
#                           wrong answer waits longer (see ``wrong_password_delay``).
_KEY_NAME_MAX = 100  # a made-up username of 1 MB must not become a 1 MB key


def throttle_keys(username: str, ip: str | None) -> dict[str, str]:
    """The failure counters a login touches, by kind: ``user``, ``pair`` and ``ip``."""
    name = (username or "").strip().lower()[:_KEY_NAME_MAX]
    address = ip or "-"  # no client address (tests, unix sockets): one shared bucket
    return {"user": f"user:{name}", "pair": f"pair:{address}/{name}", "ip": f"ip:{address}"}


def throttled(storage: Storage, username: str, ip: str | None, max_failures: int, window_s: float,
              now_ms: int | None = None, address_max_failures: int | None = None) -> bool:
    """True when this client (address) itself failed too often: on this username, or on any."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    since = now_ms - int(window_s * 1000)
    keys = throttle_keys(username, ip)
    if storage.login_failures(keys["pair"], since) >= max_failures:
        return True
    limit = address_max_failures if address_max_failures is not None else max_failures * 4
    return storage.login_failures(keys["ip"], since) >= limit


def wrong_password_delay(storage: Storage, username: str, max_failures: int, window_s: float, delay_max_s: float,
                         now_ms: int | None = None) -> float:
    """Seconds to wait before answering a wrong password for ``username``.

    Zero until the account has ``max_failures`` failures in the window (from anywhere), then
    0.25 s doubling with each further failure, capped at ``delay_max_s``. Only wrong answers
    wait: the right password is answered at once, so an attack on the name slows the attacker,
    never the owner.
    """
    if delay_max_s <= 0:
        return 0.0
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    failures = storage.login_failures(throttle_keys(username, None)["user"], now_ms - int(window_s * 1000))
    if failures < max_failures:
        return 0.0
    return min(delay_max_s, 0.25 * 2 ** min(failures - max_failures, 16))


def login(storage: Storage, username: str, password: str, ip: str | None, *, max_failures: int,
          window_s: float, address_max_failures: int | None = None, now_ms: int | None = None) -> User | None | str:
    """The user for good credentials; ``"throttled"`` while this client is throttled; None otherwise (failure noted)."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    username = (username or "").strip().lower()
    if throttled(storage, username, ip, max_failures, window_s, now_ms, address_max_failures):
        return "throttled"
    found = storage.user_login(username) if username else None
    if found is None:
        dummy_verify(password or "")
        ok = False
    else:
        user, encoded = found
        ok = verify_secret(encoded, password or "") and user.active
    keys = throttle_keys(username, ip)
    if not ok:
        storage.note_login_failure(list(keys.values()), now_ms, int(window_s * 1000) * 4)
        return None
    # Only this client's own slate is wiped: the account's and the address's counters stay, so
    # one good login (the owner's, or an attacker's own account) never resets an attack's tally.
    storage.clear_login_failures(keys["pair"])
    return user
