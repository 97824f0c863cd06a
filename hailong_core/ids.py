"""Time-ordered response ids (UUID version 7, RFC 9562).

Python 3.11 has no ``uuid.uuid7``; the layout is small enough to write down here: 48 bits of Unix
milliseconds, then a 12-bit counter that keeps ids made in the same millisecond ordered, then
random bits. Time-ordered ids keep the server's unique index append-mostly, which is about twice
as fast to insert into as random UUIDs.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def uuid7(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 as its canonical lowercase string."""
    global _last_ms, _counter
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            # Same millisecond (or the clock stepped back): keep ordering with the counter.
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & 0xFFFFFFFFFFFF) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def is_uuid(value: object) -> bool:
    """True for a canonical lowercase UUID string."""
    return isinstance(value, str) and UUID_RE.match(value) is not None
