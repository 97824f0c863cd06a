"""The kiosk fleet: status, silent kiosks, revoke and re-enrol; enrolment codes with a QR."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from fastapi import Form, Request
from markupsafe import Markup

from sync_server import security
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, ensure_scope, scope, viewer
from sync_server.web.fleet_view import silent_devices
from sync_server.web.render import done, render

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
    return render(request, "fleet.html", devices=devices, silent=silent, names=names,
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
    """Revoke the kiosk's token and make a fresh code for the same unit and label (a replaced or reinstalled kiosk)."""
    storage = request.app.state.hailong.storage
    device = _device_in_scope(request, device_id)
    now = datetime.now(timezone.utc)
    storage.revoke_device(device_id, now)
    storage.audit(now, viewer(request).user, "device.revoke", device_id, {"reenrol": True}, client_ip(request))
    return _issue_code(request, device["unit_code"], device["name"])


@pages.get("/admin/enrol-codes", access="admin")
def codes_page(request: Request):
    storage = request.app.state.hailong.storage
    return render(request, "enrol_codes.html", codes=storage.enroll_codes()[:200],
                  names={u["code"]: u["name"] for u in storage.units()},
                  points=[u for u in storage.units() if u["valid_to"] is None and u["level"] != "province"],
                  ttl=request.app.state.hailong.settings.enroll_code_ttl_h)


@pages.post("/admin/enrol-codes", access="admin")
def codes_create(request: Request, unit_code: str = Form(...), label: str = Form("")):
    unit = request.app.state.hailong.storage.unit(unit_code.strip())
    if unit is None or unit["valid_to"] is not None or unit["level"] == "province":
        raise FormError(f"{unit_code!r} is not an open service point")
    return _issue_code(request, unit["code"], label.strip()[:100] or None)


def _issue_code(request: Request, unit_code: str, label: str | None):
    state = request.app.state.hailong
    code = security.new_enroll_code()
    now = datetime.now(timezone.utc)
    expires = now + timedelta(hours=state.settings.enroll_code_ttl_h)
    user = viewer(request).user
    state.storage.create_enroll_code(unit_code, security.digest(security.normalise_code(code)), expires, label, user.username)
    state.storage.audit(now, user, "enrol_code.create", unit_code, {"label": label, "ref": str(uuid.uuid4())[:8]}, client_ip(request))
    uri = enrol_uri(str(request.base_url), code)
    # Shown once: only the code's hash is stored.
    return render(request, "enrol_code.html", code=code, unit=state.storage.unit(unit_code), label=label,
                  expires=expires, qr=qr_svg(uri), uri=uri)
