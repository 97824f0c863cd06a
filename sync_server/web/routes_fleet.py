"""The kiosk fleet: status, site and counter, silent kiosks, revoke and re-enrol; enrolment codes with a QR,
each tied to a site (điểm tiếp nhận) of its unit and optionally a counter (quầy)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from fastapi import Form, Request
from markupsafe import Markup

from sync_server import days, security
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, ensure_scope, scope, viewer
from sync_server.web.fleet_view import silent_devices
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render
from sync_server.web.sites_view import open_sites, reused_codes, sites_in_force, version_on

pages = Pages()


def enrol_uri(base_url: str, code: str) -> str:
    """What the QR holds: the server and the code, for a kiosk's camera or a phone to copy."""
    return f"hailong://enroll?server={quote(base_url.rstrip('/'), safe=':/')}&code={code}"


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (qrcode's SVG factory: no imaging library)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return Markup(svg[svg.index("<svg"):])


@pages.get("/admin/fleet", access="user")
def fleet_page(request: Request):
    state = request.app.state.hailong
    devices = state.storage.devices(scope(request))
    silent = {d["id"] for d in silent_devices(devices, state.settings.fleet_silent_after_min)}
    names = {u["code"]: u for u in state.storage.units()}
    sites = {s["id"]: s for s in state.storage.sites(include_closed=True)}
    # Sites of the unit versions in force today: a kiosk enrolled before a merger stands at an older unit's site.
    current = {s["id"] for own in sites_in_force(state.storage, state.storage.units_as_of(_today(request))).values() for s in own}
    return render(request, "fleet.html", devices=devices, silent=silent, names=names, sites=sites, current=current,
                  silent_after=state.settings.fleet_silent_after_min, skew=state.settings.clock_skew_s)


def _device_in_scope(request: Request, device_id: str) -> dict:
    device = request.app.state.hailong.storage.device(device_id)
    if device is None:
        raise PageNotFound()
    ensure_scope(request, device["unit_code"])
    return device


@pages.post("/admin/fleet/{device_id}/revoke", access="admin")
def device_revoke(request: Request, device_id: str):
    storage = request.app.state.hailong.storage
    _device_in_scope(request, device_id)
    now = datetime.now(timezone.utc)
    storage.revoke_device(device_id, now)
    storage.audit(now, viewer(request).user, "device.revoke", device_id, None, client_ip(request))
    return done("/admin/fleet", "ok_revoked")


@pages.post("/admin/fleet/{device_id}/reenrol", access="admin")
def device_reenrol(request: Request, device_id: str):
    """Revoke the kiosk's token and make a fresh code for the same unit, site, counter and label (a replaced or
    reinstalled kiosk)."""
    storage = request.app.state.hailong.storage
    device = _device_in_scope(request, device_id)
    now = datetime.now(timezone.utc)
    storage.revoke_device(device_id, now)
    storage.audit(now, viewer(request).user, "device.revoke", device_id, {"reenrol": True}, client_ip(request))
    # The same site and counter, when the site is still open today; else the unit's first site.
    site = next((s for s in open_sites(storage, device["unit_code"], _today(request)) if s["id"] == device["site_id"]), None)
    counter = device["counter"] if site and any(c["code"] == device["counter"] for c in site["counters"]) else None
    return _issue_code(request, device["unit_code"], device["name"], site, counter)


def _today(request: Request) -> str:
    return days.local_today(request.app.state.hailong.settings).isoformat()


@pages.get("/admin/enrol-codes", access="admin")
def codes_page(request: Request, unit: str | None = None, site: str | None = None):
    """Step one: choose the unit (``?unit=``; a site page links with ``?site=``); step two: its site, counter, label."""
    storage = request.app.state.hailong.storage
    today = _today(request)
    points = [u for u in storage.units_as_of(today) if u["level"] != "province"]
    chosen, sites, chosen_site = None, [], None
    if site and site.strip().isdigit() and len(site.strip()) < 12:
        found = storage.site(int(site.strip()))
        unit = found["unit_code"] if found else unit
        chosen_site = found["id"] if found else None
    if unit:
        chosen = next((u for u in points if u["code"] == unit.strip()), None)
        sites = open_sites(storage, chosen["code"], today, chosen) if chosen else []
    sites_by_id = {s["id"]: s for s in storage.sites(include_closed=True)}
    return render(request, "enrol_codes.html", codes=storage.enroll_codes()[:200],
                  names={u["code"]: u["name"] for u in storage.units()}, points=points, chosen=chosen, sites=sites,
                  chosen_site=chosen_site if any(s["id"] == chosen_site for s in sites) else None,
                  reused=reused_codes(storage, points), sites_by_id=sites_by_id, today=today,
                  ttl=request.app.state.hailong.settings.enroll_code_ttl_h)


@pages.post("/admin/enrol-codes", access="admin")
def codes_create(request: Request, unit_code: str = Form(...), label: str = Form(""), site_id: str = Form(""),
                 counter: str = Form("")):
    """A code for a kiosk at a site of the unit (default: its first site) and, optionally, one of its counters."""
    storage = request.app.state.hailong.storage
    t = translator(request_lang(request))
    today = _today(request)
    unit = version_on(storage, unit_code.strip(), today)
    if unit is None or unit["level"] == "province":
        raise FormError(t("code_err_unit", code=unit_code.strip()[:40]))
    sites = open_sites(storage, unit["code"], today, unit)
    if not sites:
        raise FormError(t("code_err_no_site", unit=unit["name"]))
    site = sites[0]
    if site_id.strip():
        site = next((s for s in sites if str(s["id"]) == site_id.strip()), None)
        if site is None:
            raise FormError(t("code_err_site", unit=unit["name"]))
    counter = counter.strip()
    if counter and counter.partition(":")[0] == str(site["id"]):  # the picker's values are "<site id>:<counter>"
        counter = counter.partition(":")[2]
    elif ":" in counter:
        raise FormError(t("code_err_counter", site=site["name"]))
    if counter and not any(c["code"] == counter for c in site["counters"]):
        raise FormError(t("code_err_counter", site=site["name"]))
    return _issue_code(request, unit["code"], label.strip()[:100] or None, site, counter or None)


def _issue_code(request: Request, unit_code: str, label: str | None, site: dict | None = None, counter: str | None = None):
    state = request.app.state.hailong
    code = security.new_enroll_code()
    now = datetime.now(timezone.utc)
    expires = now + timedelta(hours=state.settings.enroll_code_ttl_h)
    user = viewer(request).user
    site_id = site["id"] if site else None
    state.storage.create_enroll_code(unit_code, security.digest(security.normalise_code(code)), expires, label, user.username,
                                     site_id=site_id, counter=counter)
    state.storage.audit(now, user, "enrol_code.create", unit_code, {"label": label, "site_id": site_id, "counter": counter,
                                                                    "ref": str(uuid.uuid4())[:8]}, client_ip(request))
    uri = enrol_uri(str(request.base_url), code)
    counter_name = next((c["name"] for c in site["counters"] if c["code"] == counter), None) if site and counter else None
    # Shown once: only the code's hash is stored.
    return render(request, "enrol_code.html", code=code, unit=state.storage.unit(unit_code), label=label, site=site,
                  counter=counter, counter_name=counter_name, expires=expires, qr=qr_svg(uri), uri=uri)
