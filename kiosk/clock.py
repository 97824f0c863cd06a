"""The province's time on a kiosk: every kiosk time rule (office hours, the officer's end of day,
the after-hours flag, the times the admin screen shows) reads it, never the device's own zone.

A box left on UTC must still open at 07:30 in Việt Nam. The zone comes from the config
(``settings.time_zone``, an IANA name; the server sends its own), else ``Asia/Ho_Chi_Minh``. If
the system has no time-zone database for it, the config's ``utc_offset_h`` (Việt Nam: +7, no
daylight saving) is used as a fixed offset, so a kiosk never falls back to the device's zone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hailong_core.config import kiosk_settings

log = logging.getLogger(__name__)

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


@lru_cache(maxsize=16)
def _zone(name: str, offset_h: float) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        log.warning("time zone %r is unknown here; using UTC%+g", name, offset_h)
        return timezone(timedelta(hours=offset_h))


def province_zone(config: dict | None) -> tzinfo:
    """The zone of the config's settings (``time_zone``, else ``utc_offset_h``, else Việt Nam)."""
    s = kiosk_settings(config)
    try:
        offset = float(s.get("utc_offset_h", 7.0))
    except (TypeError, ValueError):
        offset = 7.0
    return _zone(str(s.get("time_zone") or DEFAULT_ZONE), offset)


class ProvinceClock:
    """``clock()`` → now in the province's zone, read from the config each call (it may change).

    ``config`` returns the current config document (the window's, or the store's meta);
    ``now`` returns an aware UTC instant (tests step it).
    """

    def __init__(self, config: Callable[[], dict | None], now: Callable[[], datetime] | None = None):
        self._config = config
        self._now = now or (lambda: datetime.now(timezone.utc))

    def zone(self) -> tzinfo:
        try:
            return province_zone(self._config())
        except Exception:  # noqa: BLE001 - a broken config read must not stop the clock
            log.exception("could not read the config for the time zone")
            return province_zone(None)

    def __call__(self) -> datetime:
        return self._now().astimezone(self.zone())
