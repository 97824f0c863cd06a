"""Sites (điểm tiếp nhận) and their counters (quầy): list, add, edit, posters.

A site belongs to the version of its unit in force when it was added (``storage.add_site``), so
the page shows today's structure: each unit in force today in the viewer's scope and its open
sites. Every signed-in role reads its own scope; only the province admin changes sites (the
roles have no unit-level administrator yet: ``docs/server-admin.md``). Each change is audited.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import Form, Request
from fastapi.responses import Response

from sync_server import days
from sync_server.kiosk_config import HoursError, parse_office_hours
from sync_server.storage import StorageRefused
from sync_server.web.access import PageNotFound, Pages, client_ip, ensure_scope, scope, viewer
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render
from sync_server.web.sites_view import (hours_text, open_sites, reused_codes, site_url_query, sites_in_force, tree_order,
                                        version_on)

pages = Pages()

NAME_MAX, ADDRESS_MAX, URL_MAX, COUNTER_NAME_MAX = 200, 300, 200, 100
HOTLINE_RE = re.compile(r"^\+?[0-9][0-9 .()\-]*[0-9]$")
COUNTER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,19}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class SiteInputError(ValueError):
    """A field of the site or counter form is wrong; ``key`` names the message, ``values`` fill it."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key, self.values = key, values


def _today(request: Request) -> str:
    return days.local_today(request.app.state.hailong.settings).isoformat()


def _now(request: Request) -> datetime:
    """Now in the province's offset: a site is added to the unit version in force on the province's day."""
    return days.province_now(request.app.state.hailong.settings)


def _text(value: str, limit: int, key: str) -> str:
    value = " ".join((value or "").split())
    if CONTROL_RE.search(value):
        raise SiteInputError("site_err_control", field=key)
    if len(value) > limit:
        raise SiteInputError("site_err_long", field=key, n=limit)
    return value


def site_fields(name: str, address: str, hours: str, hotline: str, public_base_url: str) -> dict:
    """The site form's fields, checked and tidied; raises :class:`SiteInputError`."""
    fields = {"name": _text(name, NAME_MAX, "site_name"), "address": _text(address, ADDRESS_MAX, "site_address") or None}
    if not fields["name"]:
        raise SiteInputError("site_err_name")
    try:
        fields["office_hours"] = parse_office_hours(hours)
    except HoursError as exc:
        raise SiteInputError("site_err_hours", detail=str(exc)) from None
    line = " ".join((hotline or "").split())
    if line and (not HOTLINE_RE.match(line) or not 3 <= sum(c.isdigit() for c in line) <= 15):
        raise SiteInputError("site_err_hotline", value=line)
    fields["hotline"] = line or None
    url = (public_base_url or "").strip()
    if url:
        parts = urlsplit(url)
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
                or any(c.isspace() for c in url) or len(url) > URL_MAX):
            raise SiteInputError("site_err_url", value=url[:URL_MAX])
        url = url.rstrip("/")
    fields["public_base_url"] = url or None
    return fields


def counter_fields(code: str, name: str) -> tuple[str, str]:
    code = (code or "").strip()
    if not COUNTER_RE.match(code):
        raise SiteInputError("counter_err_code", value=code[:40])
    name = _text(name, COUNTER_NAME_MAX, "counter_name")
    if not name:
        raise SiteInputError("counter_err_name")
    return code, name


def _unit_today(request: Request, code: str) -> dict:
    """The version of ``code`` in force today, in the viewer's scope, that can have sites (not the province row)."""
    ensure_scope(request, code)
    version = version_on(request.app.state.hailong.storage, code, _today(request))
    if version is None or version["level"] == "province":
        raise PageNotFound()
    return version


def _site_of(request: Request, code: str, site_id: str) -> dict:
    """An open site of ``code`` today named by a form field; another unit's or a closed one is not found."""
    storage = request.app.state.hailong.storage
    for site in open_sites(storage, code, _today(request)):
        if str(site["id"]) == (site_id or "").strip():
            return site
    raise PageNotFound()


@pages.get("/admin/sites", access="user")
def sites_page(request: Request, unit: str | None = None):
    """Without ``unit``: every unit in force today in scope, with its sites and counters; with it, that
    unit's sites to edit (province admin) or read."""
    if unit:
        return _unit_page(request, _unit_today(request, unit.strip()))
    storage = request.app.state.hailong.storage
    allowed = scope(request)
    units = [u for u in storage.units_as_of(_today(request)) if u["level"] != "province" and (allowed is None or u["code"] in allowed)]
    tree, depth = tree_order(units)
    sites = sites_in_force(storage, units)
    per_site = _kiosks_per_site(storage.devices(allowed))
    kiosks = {code: sum(per_site.get(s["id"], 0) for s in own) for code, own in sites.items()}
    return render(request, "sites.html", tree=tree, depth=depth, sites=sites, kiosks=kiosks,
                  reused=reused_codes(storage, units), multi=sum(1 for s in sites.values() if len(s) > 1))


def _kiosks_per_site(devices: list[dict]) -> dict[int, int]:
    out: dict[int, int] = {}
    for device in devices:
        if not device["revoked_at"] and device["site_id"] is not None:
            out[device["site_id"]] = out.get(device["site_id"], 0) + 1
    return out


def _unit_page(request: Request, unit: dict, *, error: str | None = None, form: dict | None = None, status: int = 200):
    storage = request.app.state.hailong.storage
    sites = open_sites(storage, unit["code"], _today(request), unit)
    first = sites[0]["id"] if sites else None
    parent = storage.unit(unit["parent_code"]) if unit["parent_code"] else None
    devices = [d for d in storage.devices({unit["code"]}) if not d["revoked_at"]]
    settings = request.app.state.hailong.settings
    return render(request, "sites_unit.html", status_code=status, unit=unit, parent=parent, sites=sites, error=error,
                  form=form or {}, hours_text={s["id"]: hours_text(s["office_hours"]) for s in sites},
                  unit_hours=hours_text(storage.office_hours(unit["code"])),
                  links={s["id"]: site_url_query(s, first) for s in sites},
                  base_url=(settings.public_base_url or str(request.base_url)).rstrip("/"),
                  devices={s["id"]: [d for d in devices if d["site_id"] == s["id"]] for s in sites},
                  reused=reused_codes(storage, [unit]).get(unit["code"]))


def _refused(request: Request, unit: dict, exc: SiteInputError, form: dict):
    """The unit's page again with the message and what was typed (400), instead of a bare error page."""
    t = translator(request_lang(request))
    values = {k: (t(v) if k == "field" else v) for k, v in exc.values.items()}
    return _unit_page(request, unit, error=t(exc.key, **values), form=form, status=400)


@pages.post("/admin/sites/{code}", access="admin")
def site_add(request: Request, code: str, name: str = Form(""), address: str = Form(""), hours: str = Form(""),
             hotline: str = Form(""), public_base_url: str = Form("")):
    storage = request.app.state.hailong.storage
    unit = _unit_today(request, code)
    typed = {"target": "new", "name": name, "address": address, "hours": hours, "hotline": hotline, "public_base_url": public_base_url}
    try:
        fields = site_fields(name, address, hours, hotline, public_base_url)
        if any(s["name"].casefold() == fields["name"].casefold() for s in open_sites(storage, code, _today(request), unit)):
            raise SiteInputError("site_err_duplicate", name=fields["name"])
    except SiteInputError as exc:
        return _refused(request, unit, exc, typed)
    now = _now(request)
    site = storage.add_site(code, fields.pop("name"), now, **fields)
    storage.audit(now, viewer(request).user, "site.add", code, {"site_id": site["id"], "name": site["name"], **fields},
                  client_ip(request))
    return done(f"/admin/sites?unit={code}", "ok_site_added")


@pages.post("/admin/sites/{code}/edit", access="admin")
def site_edit(request: Request, code: str, site_id: str = Form(""), name: str = Form(""), address: str = Form(""),
              hours: str = Form(""), hotline: str = Form(""), public_base_url: str = Form("")):
    storage = request.app.state.hailong.storage
    unit = _unit_today(request, code)
    site = _site_of(request, code, site_id)
    typed = {"target": site["id"], "name": name, "address": address, "hours": hours, "hotline": hotline,
             "public_base_url": public_base_url}
    try:
        fields = site_fields(name, address, hours, hotline, public_base_url)
        if any(s["id"] != site["id"] and s["name"].casefold() == fields["name"].casefold()
               for s in open_sites(storage, code, _today(request), unit)):
            raise SiteInputError("site_err_duplicate", name=fields["name"])
    except SiteInputError as exc:
        return _refused(request, unit, exc, typed)
    changed = {k: v for k, v in fields.items() if site.get(k) != v}
    if changed:
        storage.update_site(site["id"], **changed)
        storage.audit(_now(request), viewer(request).user, "site.edit", code, {"site_id": site["id"], **changed},
                      client_ip(request))
    return done(f"/admin/sites?unit={code}", "ok_saved")


@pages.post("/admin/sites/{code}/counters", access="admin")
def counter_save(request: Request, code: str, site_id: str = Form(""), counter: str = Form(""), counter_name: str = Form("")):
    """Add counter ``counter`` to a site, or rename it when the site has it already."""
    storage = request.app.state.hailong.storage
    unit = _unit_today(request, code)
    site = _site_of(request, code, site_id)
    try:
        counter, counter_name = counter_fields(counter, counter_name)
    except SiteInputError as exc:
        return _refused(request, unit, exc, {"target": f"counter-{site['id']}", "counter": counter, "counter_name": counter_name})
    before = next((c["name"] for c in site["counters"] if c["code"] == counter), None)
    if before != counter_name:
        storage.add_counter(site["id"], counter, counter_name)
        storage.audit(_now(request), viewer(request).user, "counter.rename" if before is not None else "counter.add", code,
                      {"site_id": site["id"], "counter": counter, "name": counter_name, "was": before}, client_ip(request))
    return done(f"/admin/sites?unit={code}", "ok_counter_renamed" if before is not None else "ok_counter_added")


_CLOSE_REFUSALS = {"site_has_kiosks": "site_err_has_kiosks", "last_site": "site_err_last_site",
                   "counter_has_kiosks": "site_err_counter_has_kiosks"}


@pages.post("/admin/sites/{code}/close", access="admin")
def site_close(request: Request, code: str, site_id: str = Form(""), confirm: str = Form("")):
    """Close a site: only with the box ticked that names it; refused while kiosks are enrolled to it
    or when it is the unit's last open site (``storage.close_site``). Its answers stay with it."""
    storage = request.app.state.hailong.storage
    unit = _unit_today(request, code)
    site = _site_of(request, code, site_id)
    if confirm != "1":
        return _refused(request, unit, SiteInputError("err_confirm_needed"), {"target": f"close-{site['id']}"})
    try:
        storage.close_site(site["id"], _now(request))
    except StorageRefused as exc:
        return _refused(request, unit, SiteInputError(_CLOSE_REFUSALS.get(exc.code, "err_forbidden")), {})
    storage.audit(_now(request), viewer(request).user, "site.close", code,
                  {"site_id": site["id"], "name": site["name"], "counters": [c["code"] for c in site["counters"]]},
                  client_ip(request))
    return done(f"/admin/sites?unit={code}", "ok_site_closed")


@pages.post("/admin/sites/{code}/counters/close", access="admin")
def counter_close(request: Request, code: str, site_id: str = Form(""), counter: str = Form(""), confirm: str = Form("")):
    storage = request.app.state.hailong.storage
    unit = _unit_today(request, code)
    site = _site_of(request, code, site_id)
    if not any(c["code"] == counter for c in site["counters"]):
        raise PageNotFound()
    if confirm != "1":
        return _refused(request, unit, SiteInputError("err_confirm_needed"), {"target": f"counter-{site['id']}"})
    try:
        storage.close_counter(site["id"], counter, _now(request))
    except StorageRefused as exc:
        return _refused(request, unit, SiteInputError(_CLOSE_REFUSALS.get(exc.code, "err_forbidden")), {})
    storage.audit(_now(request), viewer(request).user, "counter.close", code, {"site_id": site["id"], "counter": counter},
                  client_ip(request))
    return done(f"/admin/sites?unit={code}", "ok_counter_closed")


@pages.get("/admin/sites/{code}/posters", access="user")
def site_posters(request: Request, code: str, site: str | None = None, size: str = "a4"):
    """A PDF: one QR poster per open site of the unit (or the one ``site``), for every role in scope."""
    from sync_server import posters  # draws in a child process: Qt never loads in the server

    state = request.app.state.hailong
    unit = _unit_today(request, code)
    wanted = [_site_of(request, code, site)["id"]] if site else None
    points = posters.select_points(state.storage, [unit["code"]], day=_today(request), site_ids=wanted)
    base = (state.settings.public_base_url or str(request.base_url)).rstrip("/")
    try:
        pdf = posters.posters_pdf(points, base, size if size in posters.SIZES else "a4")
    except (OSError, ValueError) as exc:
        return render(request, "error.html", status_code=503, key="posters_failed", detail=str(exc), status=503)
    name = f"posters-{unit['code']}" + (f"-{wanted[0]}" if wanted else "") + ".pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                                "Cache-Control": "no-store"})
