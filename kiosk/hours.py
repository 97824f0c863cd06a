"""Office hours from the kiosk config: is the office open now, and when does today's work end.

``office_hours`` is ``{"mon".."sun": [["07:30", "11:30"], ["13:30", "17:00"]]}`` or None (always
open); a day missing from the map is a closed day (see :mod:`hailong_core.config`). A malformed
value is treated as "always open": a config mistake must never stop a kiosk collecting answers.
"""

from __future__ import annotations

import logging
from datetime import datetime, time

from hailong_core.config import DAYS

log = logging.getLogger(__name__)


def _parse_hhmm(text: str) -> time:
    hh, mm = text.split(":")
    return time(int(hh), int(mm))


def periods(office_hours: dict | None, moment: datetime) -> list[tuple[time, time]] | None:
    """Today's opening periods as times; None when there are no office hours (always open)."""
    if not office_hours:
        return None
    try:
        day = office_hours.get(DAYS[moment.weekday()]) or []
        return [(_parse_hhmm(a), _parse_hhmm(b)) for a, b in day]
    except (AttributeError, TypeError, ValueError):
        log.warning("office_hours in config is malformed; treating the office as always open")
        return None


def is_open(office_hours: dict | None, moment: datetime) -> bool:
    """True when ``moment`` (local time) falls inside one of the day's periods (start ≤ t < end)."""
    today = periods(office_hours, moment)
    if today is None:
        return True
    now = moment.time().replace(tzinfo=None)
    return any(start <= now < end for start, end in today)


def closing_time(office_hours: dict | None, moment: datetime) -> datetime | None:
    """When the office closes for the day of ``moment`` (end of its last period), or None."""
    today = periods(office_hours, moment)
    if not today:
        return None
    end = max(b for _, b in today)
    return moment.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)


def describe(office_hours: dict | None, moment: datetime) -> str:
    """Today's hours as text, e.g. ``07:30–11:30, 13:30–17:00`` (empty when closed or unset)."""
    today = periods(office_hours, moment) or []
    return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in today)
