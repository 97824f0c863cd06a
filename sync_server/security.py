"""Device tokens and enrolment codes: made random, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

# No 0/O, 1/I/L: codes are read aloud and typed by IT staff.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_GROUPS, CODE_GROUP_LEN = 3, 4


def new_token() -> str:
    return "hl1_" + secrets.token_urlsafe(32)


def new_enroll_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LEN))
    return "-".join(chars[i:i + CODE_GROUP_LEN] for i in range(0, len(chars), CODE_GROUP_LEN))


def normalise_code(code: str) -> str:
    """Upper case without separators, so ``abcd efgh-jkmn`` matches ``ABCD-EFGH-JKMN``."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def digest(secret: str) -> str:
    """SHA-256 hex: tokens and codes are long random strings, so a plain hash is enough (no salt)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
