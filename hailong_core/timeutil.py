"""RFC 3339 times with their UTC offset, as the protocol carries them."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

# RFC 3339 section 5.6, strictly: full date, "T", full time with optional fraction, and "Z" or a
# ±hh:mm offset (no basic format, no seconds in the offset). Offsets are bounded to those in real
# use on Earth, −12:00 to +14:00: anything else is a broken clock or a forged record.
_RFC3339 = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))$")


def now_local() -> datetime:
    """The device's current time, aware, in its local offset."""
    return datetime.now().astimezone()


def format_rfc3339(moment: datetime) -> str:
    """``2026-11-28T08:15:02.123+07:00``; refuses naive datetimes, which lose the offset."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the protocol needs a UTC offset")
    return moment.isoformat(timespec="milliseconds")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 time that must carry an offset (``Z`` or ``±hh:mm``, within −12:00…+14:00)."""
    if not isinstance(text, str) or len(text) > 40:
        raise ValueError("not an RFC 3339 time")
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError("not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.fff] with Z or ±hh:mm)")
    sign, hours, minutes = match.group(8), match.group(9), match.group(10)
    if sign is not None:
        offset_min = int(hours) * 60 + int(minutes)
        if int(minutes) > 59 or (sign == "+" and offset_min > 14 * 60) or (sign == "-" and offset_min > 12 * 60):
            raise ValueError("UTC offset out of range (−12:00 to +14:00)")
    fraction = match.group(7) or ""
    normal = text[:19].replace("t", "T") + fraction[:7] + ("+00:00" if sign is None else text[-6:])
    return datetime.fromisoformat(normal)


def utc_now() -> datetime:
    """Current time in UTC (aware)."""
    return datetime.now(timezone.utc)


def parse_day(text: str) -> date:
    """A calendar day as officials type it, ``28/11/2026`` (day first), or ISO ``2026-11-28``.

    Raises ValueError for anything else. Forms show day-first text fields rather than the
    browser's date picker, whose display follows the browser's locale (mm/dd in English).
    """
    text = (text or "").strip()
    parts = text.split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[2]) == 4:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    return date.fromisoformat(text)


def format_day(value: date | str | None) -> str:
    """``28/11/2026`` for a date or an ISO day string; "" for None."""
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%d/%m/%Y")
