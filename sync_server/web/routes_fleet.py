"""The kiosk fleet: status, site and counter, silent kiosks, revoke and re-enrol; enrolment codes with a QR,
each tied to a site (điểm tiếp nhận) of its unit and optionally a counter (quầy).

Remote diagnostics (issue 16): what each kiosk's last heartbeat said of itself (self-test, disk, database,
uptime, clock), kiosks whose clock is off by more than ``fleet_clock_tolerance_s`` flagged and counted at
the top, and, for the province admin only, a request for a kiosk's log's last lines (delivered in its
next heartbeat's answer) and the page that shows them; both audited.

Summary, filters and coverage (issue 15): ``sync_server/web/fleet_view.py`` computes them; this page shows them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from fastapi import Form, Request
from markupsafe import Markup

from sync_server import days, security
from sync_server.accounts import in_scope
from sync_server.site_rules import EnrolmentRefused, kiosk_point
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, confirmed, ensure_scope, scope, viewer
from sync_server.web.fleet_view import STATUSES, FleetFilter, clock_off, fleet_overview
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


def duration(seconds: float | None, t) -> str:
    """``3 ngày 4 giờ``, ``2 giờ 5 phút``, ``12 phút``, ``1 phút 30 giây``, ``40 giây`` (the catalogue's words);
    "—" when unknown. Rounded to the second: a clock 10 minutes ahead, measured a few milliseconds
    after it sent, reads "10 phút"."""
    if seconds is None:
        return "—"
    s = round(abs(seconds))
    if s >= 86400:
        return t("dur_days", d=s // 86400, h=s % 86400 // 3600)
    if s >= 3600:
        return t("dur_hours", h=s // 3600, m=s % 3600 // 60)
    if s >= 600:
        return t("dur_minutes", m=round(s / 60))
    if s >= 60:
        return t("dur_minutes", m=s // 60) if s % 60 == 0 else t("dur_min_sec", m=s // 60, s=s % 60)
    return t("dur_seconds", s=s)


def size(n: int | None, lang: str) -> str:
    """Bytes as people read them: ``12,3 GB`` (a decimal comma in Vietnamese), ``4,1 MB``."""
    if n is None:
        return "—"
    for unit, factor in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= factor:
            text = f"{n / factor:.1f}"
            return (text.replace(".", ",") if lang == "vi" else text) + f" {unit}"
    return f"{n} B"


def diagnostics_view(device: dict, diag: dict | None, settings, t, lang: str) -> dict:
    """What the fleet page shows of one kiosk's diagnostics, worded (the template only places it)."""
    offset = device.get("clock_offset_s")
    sign = "+" if (offset or 0) >= 0 else "−"
    out = {"clock_off": clock_off(offset, settings.fleet_clock_tolerance_s),
           "clock_words": f"{sign}{duration(offset, t)}" if offset is not None else "—",
           "clock_text": f"{round(offset):+d} s" if offset is not None else "—",  # round(): never "-0 s"
           "reported_at": None, "selftest": None, "lines": [], "low_disk": False, "log": None}
    body = (diag or {}).get("diagnostics") or {}
    if diag:
        out["reported_at"] = diag.get("reported_at")
        if diag.get("log_request_id"):
            out["log"] = ("requested", diag.get("log_requested_at"))
        elif diag.get("log_received_at"):
            out["log"] = ("received", diag.get("log_received_at"))
    test = body.get("selftest")
    if test:
        if test.get("fail"):
            out["selftest"] = ("bad", t("diag_selftest_fail", n=test["fail"], names=", ".join(test.get("failing") or [])))
        elif test.get("warn"):
            out["selftest"] = ("warn", t("diag_selftest_warn", n=test["warn"], names=", ".join(test.get("warning") or [])))
        else:
            out["selftest"] = ("ok", t("diag_selftest_ok", n=test.get("ok", 0)))
    if "disk_free_bytes" in body or "db_bytes" in body:
        out["lines"].append(t("diag_disk", free=size(body.get("disk_free_bytes"), lang), db=size(body.get("db_bytes"), lang)))
        free = body.get("disk_free_bytes")
        out["low_disk"] = free is not None and free < settings.fleet_low_disk_mb * 1024 * 1024
    if "uptime_s" in body:
        out["lines"].append(t("diag_uptime", app=duration(body.get("uptime_s"), t), system=duration(body.get("system_uptime_s"), t)))
    clock = body.get("time")
    if clock:
        sync = {True: t("diag_synced"), False: t("diag_not_synced")}.get(clock.get("synchronized"), t("diag_sync_unknown"))
        line = t("diag_time", zone=clock.get("zone") or "?", sync=sync)
        if clock.get("offset_ms") is not None:
            line += " · " + t("diag_ntp_offset", ms=f"{clock['offset_ms']:+.0f}")
        out["lines"].append(line)
        out["time_warn"] = clock.get("synchronized") is False
    return out


@pages.get("/admin/fleet", access="user")
def fleet_page(request: Request, unit: str | None = None, status: str | None = None, version: str | None = None,
               q: str | None = None):
    """The summary (kiosks by state, versions, pending, clocks, points covered), the filtered kiosks, and the
    points without an active kiosk; filters are the GET query (a plain form: no script needed)."""
    state = request.app.state.hailong
    settings = state.settings
    filters = FleetFilter.parse(unit, status, version, q)
    today = _today(request)
    fleet = fleet_overview(state.storage, settings, scope(request), today, filters)
    # Sites of the unit versions in force today: a kiosk enrolled before a merger stands at an older unit's site.
    current = {s["id"] for own in sites_in_force(state.storage, state.storage.units_as_of(today)).values() for s in own}
    lang = request_lang(request)
    t = translator(lang)
    devices = fleet["devices"]
    diagnostics = state.storage.device_diagnostics([d["id"] for d in devices])
    views = {d["id"]: diagnostics_view(d, diagnostics.get(d["id"]), settings, t, lang) for d in devices}
    active = [d for d in devices if not d["revoked_at"]]
    alerts = {"clock": fleet["summary"]["clock_off"],
              "selftest": sum(1 for d in active if (views[d["id"]]["selftest"] or ("",))[0] == "bad"),
              "disk": sum(1 for d in active if views[d["id"]]["low_disk"])}
    # Named in the heading only inside the viewer's scope (an out-of-scope code just shows nothing).
    chosen = fleet["names"].get(filters.unit) if filters.unit and in_scope(scope(request), filters.unit) else None
    return render(request, "fleet.html", devices=devices, silent=fleet["silent"], names=fleet["names"], sites=fleet["sites"],
                  current=current, silent_after=settings.fleet_silent_after_min, views=views, alerts=alerts,
                  tolerance=duration(settings.fleet_clock_tolerance_s, t), low_disk_mb=int(settings.fleet_low_disk_mb),
                  summary=fleet["summary"], coverage=fleet["coverage"], uncovered=fleet["uncovered"], states=fleet["states"],
                  targets=fleet["targets"], filters=filters, statuses=STATUSES, unit_options=fleet["unit_options"],
                  version_options=fleet["version_options"], chosen_unit=chosen, shown_of=len(devices) if filters.narrows_kiosks else None)


@pages.post("/admin/fleet/{device_id}/log", access="admin")
def device_log_request(request: Request, device_id: str, lines: str = Form("")):
    """Ask the kiosk for its log's last lines: stored (and audited) here, delivered in its next heartbeat's answer."""
    storage = request.app.state.hailong.storage
    device = _device_in_scope(request, device_id)
    if device["revoked_at"]:
        raise FormError(translator(request_lang(request))("log_err_revoked"))
    count = request.app.state.hailong.settings.fleet_log_lines
    if lines.strip():
        if not lines.strip().isdigit() or not 1 <= int(lines.strip()) <= 500:
            raise FormError(translator(request_lang(request))("log_err_lines"))
        count = int(lines.strip())
    storage.request_device_log(device_id, str(uuid.uuid4()), count, datetime.now(timezone.utc), viewer(request).user,
                               client_ip(request))
    return done(f"/admin/fleet/{device_id}/log", "ok_log_requested")


@pages.get("/admin/fleet/{device_id}/log", access="admin")
def device_log_page(request: Request, device_id: str):
    """The last log lines the kiosk sent (scrubbed on the kiosk), and whether a request is still open. Viewing is audited."""
    state = request.app.state.hailong
    device = _device_in_scope(request, device_id)
    log = state.storage.device_log(device_id)
    if log is not None:
        state.storage.audit(datetime.now(timezone.utc), viewer(request).user, "device.log_view", device_id,
                            {"received_at": log["received_at"], "lines": log["line_count"]}, client_ip(request))
    return render(request, "fleet_log.html", device=device, log=log, pending=state.storage.device_log_request(device_id),
                  unit=state.storage.unit(device["unit_code"]), default_lines=state.settings.fleet_log_lines)


def _device_in_scope(request: Request, device_id: str) -> dict:
    device = request.app.state.hailong.storage.device(device_id)
    if device is None:
        raise PageNotFound()
    ensure_scope(request, device["unit_code"])
    return device


@pages.post("/admin/fleet/{device_id}/revoke", access="admin")
def device_revoke(request: Request, device_id: str, confirm: str = Form("")):
    storage = request.app.state.hailong.storage
    _device_in_scope(request, device_id)
    confirmed(request, confirm)
    now = datetime.now(timezone.utc)
    storage.revoke_device(device_id, now)
    storage.audit(now, viewer(request).user, "device.revoke", device_id, None, client_ip(request))
    return done("/admin/fleet", "ok_revoked")


@pages.post("/admin/fleet/{device_id}/reenrol", access="admin")
def device_reenrol(request: Request, device_id: str, confirm: str = Form("")):
    """Revoke the kiosk's token and make a fresh code for the same unit, site, counter and label (a replaced or
    reinstalled kiosk)."""
    storage = request.app.state.hailong.storage
    device = _device_in_scope(request, device_id)
    confirmed(request, confirm)
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
    counter = counter.strip()
    if ":" in counter:  # the picker's values are "<site id>:<counter>": a counter of the chosen site only
        picked, _, counter = counter.partition(":")
        if site_id.strip() and picked != site_id.strip():
            counter = f"{picked}:{counter}"  # another site's counter: no counter of this one, refused below
        site_id = site_id.strip() or picked
    try:
        unit, site = kiosk_point(storage, unit_code, _today(request), site_id, counter or None)
    except EnrolmentRefused as exc:
        raise FormError(t(exc.key, **exc.params)) from None
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
