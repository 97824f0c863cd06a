"""Where a kiosk or an officer may be placed: one rule for the pages and the command line.

A kiosk is enrolled to an open site of the unit version in force today (issue 13): a code for a
unit that ended (7201 Phường Thọ Xương, district 213 after 2025-07-01), for a site of an ended
version (Phường Hoàng Văn Thụ's site under code 7210) or for a closed site would enrol a kiosk
to a point that no longer exists, so both front ends ask :func:`kiosk_point` and show its refusal.
An officer belongs to a unit and optionally one of its open sites (:func:`officer_site`): a kiosk
at a site carries the unit's officers of no site and those of its own site. Only storage calls
here, no HTTP.
"""

from __future__ import annotations

import secrets

from sync_server.web.sites_view import open_sites, version_on


class EnrolmentRefused(ValueError):
    """Why no kiosk code can be made there: ``key`` is a catalogue key (``code_err_*``), ``params`` its values."""

    def __init__(self, key: str, message: str, **params):
        super().__init__(message)
        self.key = key
        self.message = message
        self.params = params


def kiosk_point(storage, unit_code: str, day: str, site_id: int | str | None = None,
                counter: str | None = None) -> tuple[dict, dict]:
    """``(unit version, site)`` for a kiosk of ``unit_code`` at site ``site_id`` (default: the unit's
    first open site) and, when given, counter ``counter`` of that site, on ``day`` (YYYY-MM-DD).

    Raises :class:`EnrolmentRefused` when the unit has no version in force that day (or is the
    province itself, which has no counter), when the site is not an open site of that version,
    or when the site has no such open counter.
    """
    code = unit_code.strip()
    unit = version_on(storage, code, day)
    if unit is None or unit["level"] == "province":
        ended = [v for v in storage.unit_versions(code) if v["valid_to"] and v["valid_to"] <= day]
        why = (f"unit {code} ({ended[-1]['name']}) ended on {ended[-1]['valid_to']}" if unit is None and ended else
               f"{code} is the province: kiosks stand at its centre or its communes" if unit is not None else
               f"no unit with code {code!r} is in force on {day}")
        raise EnrolmentRefused("code_err_unit", why, code=code[:40])
    sites = open_sites(storage, unit["code"], day, unit)
    if not sites:
        raise EnrolmentRefused("code_err_no_site", f"unit {code} ({unit['name']}) has no open site", unit=unit["name"])
    site = sites[0]
    if site_id is not None and str(site_id).strip():
        site = next((s for s in sites if str(s["id"]) == str(site_id).strip()), None)
        if site is None:
            raise EnrolmentRefused("code_err_site", _site_refusal(storage, site_id, unit, sites), unit=unit["name"])
    if counter and not any(c["code"] == counter for c in site["counters"]):
        raise EnrolmentRefused("code_err_counter", f"site {site['id']} ({site['name']}) has no open counter {counter!r}",
                               site=site["name"])
    return unit, site


def _site_refusal(storage, site_id, unit: dict, sites: list[dict]) -> str:
    """Say why ``site_id`` is not one of ``sites`` (closed, of an ended version, of another unit, unknown)."""
    open_ids = ", ".join(f"{s['id']} ({s['name']})" for s in sites)
    tail = f"; the open sites of {unit['code']} ({unit['name']}) are: {open_ids}"
    try:
        site = storage.site(int(str(site_id).strip()))
    except ValueError:
        site = None
    if site is None:
        return f"no site {site_id}" + tail
    if site["unit_code"] != unit["code"]:
        return f"site {site['id']} belongs to unit {site['unit_code']}, not {unit['code']}" + tail
    if site["unit_valid_from"] != unit["valid_from"]:
        old = next((v for v in storage.unit_versions(unit["code"]) if v["valid_from"] == site["unit_valid_from"]), None)
        name = old["name"] if old else site["name"]
        until = f" that ended on {old['valid_to']}" if old and old["valid_to"] else ""
        return f"site {site['id']} ({site['name']}) belongs to an earlier version of {unit['code']} ({name}){until}" + tail
    return f"site {site['id']} ({site['name']}) is closed" + tail


class SiteRefused(ValueError):
    """An officer's unit that is no open service point, or a site that is not an open site of the
    officer's unit; ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def new_officer_id() -> str:
    """A new officer's id (``cb-`` and 10 hex digits), the same from the pages and the command line."""
    return "cb-" + secrets.token_hex(5)


def officer_unit(storage, unit_code: str) -> dict:
    """The unit an officer may belong to: a unit in force that is not the province itself (a centre,
    district or commune); raises :class:`SiteRefused`."""
    unit = storage.unit(unit_code)
    if unit is None or unit["valid_to"] is not None or unit["level"] == "province":
        raise SiteRefused(f"{unit_code!r} is not an open service point (centre, district or commune)")
    return unit


def officer_site(storage, unit_code: str, site_id: int | str | None, day: str) -> int | None:
    """The site id an officer of ``unit_code`` may be given on ``day``: None (the whole unit, every
    site's kiosks) for an empty value, else an open site of the unit version in force; raises
    :class:`SiteRefused` for a site of another unit, of an ended version, a closed or unknown one."""
    if site_id is None or not str(site_id).strip():
        return None
    unit = version_on(storage, unit_code, day)
    sites = open_sites(storage, unit_code, day, unit) if unit is not None else []
    wanted = str(site_id).strip()
    found = next((s for s in sites if str(s["id"]) == wanted), None)
    if found is None:
        raise SiteRefused(_site_refusal(storage, wanted, unit, sites) if unit is not None else
                          f"unit {unit_code} is not in force on {day}: its officers stand at no site")
    return found["id"]
