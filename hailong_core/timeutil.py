"""RFC 3339 times with their UTC offset, as the protocol carries them."""

from __future__ import annotations

from datetime import date, datetime, timezone


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
