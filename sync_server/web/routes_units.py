"""Units: the tree on a date, each unit's history and successor links, office hours, imports."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import File, Form, Request, UploadFile

from hailong_core.timeutil import parse_day
from sync_server import accounts
from sync_server.kiosk_config import (HoursError, format_office_hours, parse_office_hours, province_today, set_unit_admin_pin,
                                      unit_admin_pin)
from sync_server.unit_files import ReleaseError, load_release_csv, load_release_json
from sync_server.web import routes_alerts, routes_comments, routes_dossiers, routes_sites
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, ensure_scope, scope, viewer
from sync_server.web.render import done, render
from sync_server.web.sites_view import open_sites, reused_codes, tree_order

pages = Pages()


@pages.get("/admin/units", access="user")
def units_page(request: Request, on: str | None = None):
    state = request.app.state.hailong
    storage = state.storage
    try:
        day = parse_day(on).isoformat() if on else province_today(state.settings.utc_offset_h)
    except ValueError:
        day = province_today(state.settings.utc_offset_h)
    allowed = scope(request)
    tree, depth = tree_order([u for u in storage.units_as_of(day) if allowed is None or u["code"] in allowed])
    counts = storage.answers_per_unit()
    closed = [v for v in storage.unit_versions() if v["valid_to"] and (allowed is None or v["code"] in allowed)]
    releases = sorted({v["valid_from"] for v in storage.unit_versions()})
    return render(request, "units.html", day=day, tree=tree, depth=depth, counts=counts, closed=closed[-300:],
                  closed_total=len(closed), releases=releases, reused=reused_codes(storage, tree),
                  today=province_today(state.settings.utc_offset_h))


@pages.get("/admin/units/{code}", access="user")
def unit_page(request: Request, code: str):
    storage = request.app.state.hailong.storage
    unit = storage.unit(code)
    if unit is None:
        raise PageNotFound()
    ensure_scope(request, code)
    allowed = scope(request)
    names = {u["code"]: u["name"] for u in storage.units()}
    today = province_today(request.app.state.hailong.settings.utc_offset_h)
    return render(request, "unit.html", unit=unit, sites=open_sites(storage, code, today), versions=storage.unit_versions(code), names=names,
                  successors=storage.unit_lineage(code, "successors"), predecessors=storage.unit_lineage(code, "predecessors"),
                  officers=storage.officers({code}), devices=storage.devices({code}),
                  hours_text=format_office_hours(unit["office_hours"]),
                  effective_hours=format_office_hours(storage.office_hours(code)),
                  answers=storage.answers_per_unit().get(code, 0), has_admin_pin=unit_admin_pin(storage, code) is not None,
                  children=[u for u in storage.units() if u["parent_code"] == code and (allowed is None or u["code"] in allowed)])


@pages.post("/admin/units/{code}/hours", access="admin")
def unit_hours(request: Request, code: str, hours: str = Form("")):
    storage = request.app.state.hailong.storage
    if storage.unit(code) is None:
        raise PageNotFound()
    try:
        parsed = parse_office_hours(hours)
    except HoursError as exc:
        raise FormError(str(exc)) from None
    storage.set_office_hours(code, parsed)
    storage.audit(datetime.now(timezone.utc), viewer(request).user, "unit.hours", code, {"hours": parsed}, client_ip(request))
    return done(f"/admin/units/{code}", "ok_saved")


@pages.post("/admin/units/{code}/admin-pin", access="admin")
def unit_admin_pin_set(request: Request, code: str, pin: str = Form(""), clear: str = Form("")):
    """Set (or clear) the admin PIN of this unit's kiosks; only this unit's kiosks receive its hash."""
    storage = request.app.state.hailong.storage
    if storage.unit(code) is None:
        raise PageNotFound()
    if clear:
        set_unit_admin_pin(storage, code, None)
    else:
        try:
            accounts.check_admin_pin(pin.strip())
        except accounts.AccountError as exc:
            raise FormError(str(exc)) from None
        set_unit_admin_pin(storage, code, accounts.hash_admin_pin(pin.strip()))
    storage.audit(datetime.now(timezone.utc), viewer(request).user, "unit.admin_pin", code, {"cleared": bool(clear)},
                  client_ip(request))
    return done(f"/admin/units/{code}", "ok_pin_cleared" if clear else "ok_pin")


@pages.post("/admin/units/import", access="admin")
async def units_import(request: Request, file: UploadFile = File(...), valid_from: str = Form(""), dry_run: str = Form("")):
    storage = request.app.state.hailong.storage
    raw = await file.read()
    try:
        valid_from = parse_day(valid_from).isoformat() if valid_from.strip() else ""
    except ValueError:
        raise FormError("valid from: a day as DD/MM/YYYY") from None
    try:
        text = raw.decode("utf-8")
        name = file.filename or "upload"
        if name.lower().endswith(".csv"):
            release = load_release_csv(text, valid_from or None, source=name)
        else:
            release = load_release_json(text, source=name)
            if valid_from:
                release.valid_from = valid_from
        report = storage.import_unit_release(release, dry_run=bool(dry_run))
    except UnicodeDecodeError:
        raise FormError("the file is not UTF-8 text") from None
    except (ReleaseError, ValueError) as exc:
        raise FormError(str(exc)) from None
    if not dry_run:
        storage.audit(datetime.now(timezone.utc), viewer(request).user, "units.import", release.source,
                      {"valid_from": release.valid_from, "summary": report.summary()}, client_ip(request))
    return render(request, "import_report.html", report=report, release=release, dry_run=bool(dry_run))


# The sites pages (/admin/sites) hang on this router: a unit's service points are part of the units' pages.
pages.router.include_router(routes_sites.pages.router)
pages.router.include_router(routes_dossiers.pages.router)
pages.router.include_router(routes_comments.pages.router)
pages.router.include_router(routes_alerts.pages.router)
