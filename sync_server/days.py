"""The server's one calendar: the province's local days, months and "now".

A day is numbered from 1970-01-01 in the province's UTC offset (``utc_offset_h``): day ``n``
holds the instants ``ms`` with ``(ms + offset) // DAY_MS == n``. Months are ``yyyymm`` integers.
Everything that turns an instant into a day or a day into a date (rollups, windows, the phone
form's "same day") goes through here, so a year-1 or year-9999 time cannot overflow somewhere else.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
EPOCH = date(1970, 1, 1)
# Instants a report can place (a day and its month must exist as dates in any offset):
# 0002-01-01 to 9998-12-31 UTC. Anything outside is placed by its receipt time instead.
MIN_PLACE_MS = int(datetime(2, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
MAX_PLACE_MS = int(datetime(9998, 12, 31, tzinfo=timezone.utc).timestamp() * 1000)


def offset_ms(settings) -> int:
    """The province's UTC offset in milliseconds."""
    return int(round(settings.utc_offset_h * HOUR_MS))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def province_now(settings, now: datetime | None = None) -> datetime:
    """Now in the province's UTC offset (the day boundaries of "same day" and created_at's offset)."""
    moment = now or utc_now()
    return moment.astimezone(timezone(timedelta(hours=settings.utc_offset_h)))


def local_today(settings, now: datetime | None = None) -> date:
    return province_now(settings, now).date()


def day_number(d: date | str) -> int:
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return (d - EPOCH).days


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=number)


def day_at(ms: int, offset: int) -> int:
    """The local day number of the instant ``ms`` (UTC epoch ms)."""
    return (ms + offset) // DAY_MS


def month_of(number: int) -> int:
    """``yyyymm`` of a day number."""
    d = day_of(number)
    return d.year * 100 + d.month


def placeable(ms: int | None) -> bool:
    return ms is not None and MIN_PLACE_MS <= ms <= MAX_PLACE_MS


def utc_ms(text: str) -> int:
    """UTC epoch milliseconds of an RFC 3339 time as the server writes it (receipt times)."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def month_spans(day_from: int, day_to: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Split a window into edge day ranges and whole months ``(yyyymm from, yyyymm to)``."""
    start, end = day_of(day_from), day_of(day_to)
    first_full = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = end + timedelta(days=1)
    last_full_end = after if after.day == 1 else after.replace(day=1)  # exclusive
    if first_full >= last_full_end:
        return [(day_from, day_to)], None
    edges = []
    if first_full > start:
        edges.append((day_from, day_number(first_full) - 1))
    if last_full_end <= end:
        edges.append((day_number(last_full_end), day_to))
    last_month = last_full_end - timedelta(days=1)
    return edges, (first_full.year * 100 + first_full.month, last_month.year * 100 + last_month.month)
