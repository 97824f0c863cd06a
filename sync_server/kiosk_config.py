"""The kiosk config document for one unit (``hailong_core.config`` shape), and office hours text.

Built from storage on each request; its ETag is the hash of its canonical JSON, so anything that
changes the document (roster, PIN, photo, campaign, published version, hours, admin PIN) changes
the ETag, and nothing else does.

Admin PINs are per unit (issue 11): a device's config carries only its own unit's admin PIN hash
(server_config ``admin_pin_hash.<unit code>``), or none. The old province-wide ``admin_pin_hash``
travelled to every kiosk, so one kiosk's token was enough to guess the PIN of all of them offline;
it is retired (set to null) the first time it is read and never sent again (docs/server-admin.md).

The receipt's dossier code (issue 14): ``dossier_scan`` offers the scan step, ``dossier_pattern`` is
the unit's code pattern (server_config ``dossier_pattern.<unit code>``, else the setting), and
``dossier_link_s`` how long a code announced by a counter system waits for the next rating.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

from hailong_core.config import DAYS
from hailong_core.dossier import matches_pattern
from hailong_core.response import canonical_json
from sync_server import prompts, releases
from sync_server.storage import Storage


def province_today(utc_offset_h: float, now: datetime | None = None) -> str:
    """Today's date at the province (Việt Nam: UTC+7, no daylight saving)."""
    now = now or datetime.now(timezone.utc)
    return (now.astimezone(timezone(timedelta(hours=utc_offset_h)))).date().isoformat()


PROVINCE_PIN_KEY = "admin_pin_hash"
RETIRED_KEY = "admin_pin_hash_retired_at"


def unit_pin_key(unit_code: str) -> str:
    return f"{PROVINCE_PIN_KEY}.{unit_code}"


def unit_admin_pin(storage: Storage, unit_code: str) -> str | None:
    """The unit's own kiosk admin PIN hash, or None (its kiosks then use their local PIN, or have no admin screen)."""
    return storage.get_config(unit_pin_key(unit_code))


def set_unit_admin_pin(storage: Storage, unit_code: str, pin_hash: str | None) -> None:
    storage.set_config(unit_pin_key(unit_code), pin_hash)


def retire_province_pin(storage: Storage, now: datetime | None = None) -> bool:
    """Drop a province-wide admin PIN hash left by an older server (once); True when one was dropped."""
    if storage.get_config(PROVINCE_PIN_KEY) is None:
        return False
    now = now or datetime.now(timezone.utc)
    storage.set_config(PROVINCE_PIN_KEY, None)
    storage.set_config(RETIRED_KEY, now.isoformat(timespec="seconds"))
    storage.audit(now, None, "settings.admin_pin_retired", None, {"reason": "admin PINs are per unit"})
    return True


DOSSIER_PATTERN_KEY = "dossier_pattern"


class PatternError(ValueError):
    """A dossier code pattern that is not a regular expression."""


def unit_dossier_pattern(storage: Storage, settings, unit_code: str) -> str:
    """The unit's receipt-code pattern: its own (server config), else the province's setting ("" = any code)."""
    own = storage.get_config(f"{DOSSIER_PATTERN_KEY}.{unit_code}")
    return own if isinstance(own, str) else settings.dossier_pattern


def set_unit_dossier_pattern(storage: Storage, unit_code: str, pattern: str | None) -> None:
    """Give a unit its own receipt-code pattern (None: the province's setting again); raises :class:`PatternError`."""
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PatternError(f"not a regular expression: {exc}") from None
    storage.set_config(f"{DOSSIER_PATTERN_KEY}.{unit_code}", pattern)


def dossier_code_fits(storage: Storage, settings, unit_code: str, code: str) -> bool:
    """Whether ``code`` (as read: normalised by the caller) is a receipt code of this unit's pattern."""
    return matches_pattern(code, unit_dossier_pattern(storage, settings, unit_code))


def build_config(storage: Storage, settings, unit_code: str, day: str | None = None, *, site_id: int | None = None,
                 counter: str | None = None, device_id: str | None = None) -> dict:
    """The config of a kiosk of ``unit_code`` standing at site ``site_id`` (its enrolment's), counter ``counter``.

    The site (issue 13) names the kiosk's header and gives the thank-you its hotline and public
    address, and the office its hours, each falling back to the unit's (hours) or the server's
    settings when the site has none. With ``device_id``, a kiosk release staged for that kiosk
    (remote update, issue 16) adds a ``release`` block; without one there is no such key.
    """
    retire_province_pin(storage)
    unit = storage.unit(unit_code)
    day = day or province_today(settings.utc_offset_h)
    site = storage.site(site_id) if site_id is not None else storage.first_site(unit_code, day)
    site = site or {}
    counter_name = next((c["name"] for c in site.get("counters", ()) if c["code"] == counter), None)
    config = {
        "unit": {k: unit[k] for k in ("code", "name", "level", "parent_code")},
        "site": {"id": site.get("id"), "name": site.get("name") or unit["name"], "address": site.get("address"),
                 "counter": counter, "counter_name": counter_name},
        "officers": storage.kiosk_officers(unit_code, site.get("id")),  # the unit's of no site, and this site's
        "questionnaire": storage.active_questionnaire(unit_code, day),
        "prompts": prompts.config_entries(storage),
        "settings": {"cooldown_s": settings.kiosk_cooldown_s, "idle_timeout_s": settings.kiosk_idle_timeout_s,
                     "burst_count": settings.kiosk_burst_count, "burst_window_s": settings.kiosk_burst_window_s,
                     "office_hours": site.get("office_hours") or storage.office_hours(unit_code),
                     "admin_pin_hash": unit_admin_pin(storage, unit_code),
                     "time_zone": settings.time_zone, "utc_offset_h": settings.utc_offset_h,
                     "public_base_url": site.get("public_base_url") or settings.public_base_url,
                     "hotline": site.get("hotline") or settings.kiosk_hotline,
                     "dossier_scan": settings.dossier_scan,
                     "dossier_pattern": unit_dossier_pattern(storage, settings, unit_code),
                     "dossier_link_s": settings.dossier_link_s},
    }
    release = releases.config_block(storage, device_id) if device_id else None
    if release is not None:
        config["release"] = release
    return config


def config_payload(config: dict) -> tuple[bytes, str]:
    """``(body, etag)`` for a config document."""
    payload = canonical_json(config)
    return payload, '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'


# --- office hours as text: "mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30" ----------------------

class HoursError(ValueError):
    pass


_SPAN = re.compile(r"^([0-2][0-9]):([0-5][0-9])-([0-2][0-9]):([0-5][0-9])$")


def parse_office_hours(text: str) -> dict | None:
    """Parse the text form; empty text means "inherit" (None). Days not named are closed."""
    text = (text or "").strip()
    if not text:
        return None
    hours: dict[str, list[list[str]]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        head, *spans = part.split()
        days = _days(head)
        if not spans:
            raise HoursError(f"{part!r}: give at least one span like 07:30-11:30")
        parsed = []
        for span in spans:
            m = _SPAN.match(span)
            if not m or int(m.group(1)) > 23 or int(m.group(3)) > 24:
                raise HoursError(f"{span!r} is not a span like 07:30-11:30")
            start, end = span.split("-")
            if start >= end:
                raise HoursError(f"{span!r}: the end must come after the start")
            parsed.append([start, end])
        for day in days:
            if day in hours:
                raise HoursError(f"{day} is given twice")
            hours[day] = sorted(parsed)
    return {d: hours[d] for d in DAYS if d in hours}


def _days(head: str) -> list[str]:
    head = head.lower()
    if "-" in head:
        a, b = head.split("-", 1)
        if a not in DAYS or b not in DAYS or DAYS.index(a) > DAYS.index(b):
            raise HoursError(f"{head!r} is not a day range like mon-fri")
        return list(DAYS[DAYS.index(a):DAYS.index(b) + 1])
    days = head.split(",")
    if any(d not in DAYS for d in days):
        raise HoursError(f"{head!r}: days are {', '.join(DAYS)}")
    return days


def format_office_hours(hours: dict | None) -> str:
    if not hours:
        return ""
    return "; ".join(f"{day} " + " ".join(f"{a}-{b}" for a, b in spans) for day, spans in hours.items())
