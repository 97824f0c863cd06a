"""RFC 3339 times with their UTC offset, as the protocol carries them."""

from __future__ import annotations

from datetime import datetime, timezone


def now_local() -> datetime:
    """The device's current time, aware, in its local offset."""
    return datetime.now().astimezone()


def format_rfc3339(moment: datetime) -> str:
    """``2026-11-28T08:15:02.123+07:00``; refuses naive datetimes, which lose the offset."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the protocol needs a UTC offset")
    return moment.isoformat(timespec="milliseconds")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 time that must carry an offset (``Z`` or ``±hh:mm``)."""
    if not isinstance(text, str) or len(text) > 40:
        raise ValueError("not an RFC 3339 time")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("time has no UTC offset")
    return moment


def utc_now() -> datetime:
    """Current time in UTC (aware)."""
    return datetime.now(timezone.utc)
