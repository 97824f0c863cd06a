"""Accounts, the audit log and province-wide settings (default office hours; kiosk admin PINs are per unit)."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import Form, Request

from sync_server import accounts
from sync_server.kiosk_config import RETIRED_KEY, HoursError, format_office_hours, parse_office_hours, retire_province_pin
from sync_server.storage import StorageRefused
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, viewer
from sync_server.web.render import done, render

pages = Pages()


@pages.get("/admin/users", access="admin")
def users_page(request: Request):
    storage = request.app.state.hailong.storage
    return render(request, "users.html", users=storage.users(), roles=accounts.ROLES,
                  names={u["code"]: u["name"] for u in storage.units()})


@pages.post("/admin/users", access="admin")
def user_add(request: Request, username: str = Form(...), password: str = Form(...), role: str = Form(...),
             unit_code: str = Form("")):
    state = request.app.state.hailong
    username = username.strip().lower()
    unit = unit_code.strip() or None
    try:
        accounts.check_new_user(state.storage, username, password, role, unit, state.settings.password_min_length)
        uid = state.storage.add_user(username, accounts.hash_secret(password), role, unit, datetime.now(timezone.utc))
    except (accounts.AccountError, StorageRefused) as exc:
        raise FormError(str(exc)) from None
    state.storage.audit(datetime.now(timezone.utc), viewer(request).user, "user.add", username,
                        {"id": uid, "role": role, "unit_code": unit}, client_ip(request))
    return done("/admin/users", "ok_saved")


@pages.post("/admin/users/{user_id}", access="admin")
def user_edit(request: Request, user_id: int, role: str = Form(...), unit_code: str = Form(""), active: str = Form(""),
              password: str = Form("")):
    state = request.app.state.hailong
    target = state.storage.user(user_id)
    if target is None:
        raise PageNotFound()
    me = viewer(request).user
    unit = unit_code.strip() or None
    fields: dict = {"role": role, "unit_code": unit, "active": bool(active)}
    try:
        accounts.check_role_unit(state.storage, role, unit)
        if password:
            accounts.check_password(password, state.settings.password_min_length)
            fields["password_hash"] = accounts.hash_secret(password)
    except accounts.AccountError as exc:
        raise FormError(str(exc)) from None
    if target.id == me.id and (role != "province_admin" or not fields["active"]):
        raise FormError("you cannot remove your own admin role or deactivate yourself")
    state.storage.update_user(user_id, **fields)
    state.storage.audit(datetime.now(timezone.utc), me, "user.edit", target.username,
                        {"role": role, "unit_code": unit, "active": fields["active"], "password_reset": bool(password)},
                        client_ip(request))
    return done("/admin/users", "ok_saved")


@pages.get("/admin/audit", access="admin")
def audit_page(request: Request, page: int = 0):
    page = max(0, min(page, 10_000))
    rows = request.app.state.hailong.storage.audit_log(limit=100, offset=page * 100)
    return render(request, "audit.html", rows=rows, page=page)


@pages.get("/admin/settings", access="admin")
def settings_page(request: Request):
    storage = request.app.state.hailong.storage
    retire_province_pin(storage)  # an older server's province-wide PIN: never sent again
    return render(request, "settings.html", pin_retired_at=storage.get_config(RETIRED_KEY),
                  hours=format_office_hours(storage.get_config("office_hours")))


@pages.post("/admin/settings/hours", access="admin")
def settings_hours(request: Request, hours: str = Form("")):
    storage = request.app.state.hailong.storage
    try:
        parsed = parse_office_hours(hours)
    except HoursError as exc:
        raise FormError(str(exc)) from None
    storage.set_office_hours(None, parsed)
    storage.audit(datetime.now(timezone.utc), viewer(request).user, "settings.hours", None, {"hours": parsed}, client_ip(request))
    return done("/admin/settings", "ok_saved")
