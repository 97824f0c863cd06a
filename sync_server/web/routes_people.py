"""Accounts, the audit log and province-wide settings (default office hours; kiosk admin PINs are per unit)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlencode

from fastapi import Form, Query, Request

from hailong_core.timeutil import parse_day
from sync_server import accounts, days
from sync_server.kiosk_config import RETIRED_KEY, HoursError, format_office_hours, parse_office_hours, province_today, retire_province_pin
from sync_server.storage import StorageRefused
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, viewer
from sync_server.web.audit_view import describe
from sync_server.web.i18n import catalogue, request_lang, translator
from sync_server.web.render import done, render
from sync_server.web.unit_picker import posted_codes, unit_tree

pages = Pages()


@pages.get("/admin/users", access="admin")
def users_page(request: Request):
    """Accounts; a unit is picked from the tree in force today (a closed unit an account still holds stays listed)."""
    state = request.app.state.hailong
    storage = state.storage
    users = storage.users()
    points = storage.units_as_of(province_today(state.settings.utc_offset_h))
    in_force = {u["code"] for u in points}
    extra = [u for u in (storage.unit(c) for c in sorted({x["unit_code"] for x in users if x["unit_code"]} - in_force)) if u]
    return render(request, "users.html", users=users, roles=accounts.ROLES, tree=unit_tree(points, extra),
                  names={u["code"]: u["name"] for u in storage.units()})


def _unit(request: Request, value: str) -> str | None:
    """The posted unit code, or None; an unknown code is refused by name before the role check."""
    codes = posted_codes(request.app.state.hailong.storage, [value], translator(request_lang(request)))
    return codes[0] if codes else None


@pages.post("/admin/users", access="admin")
def user_add(request: Request, username: str = Form(...), password: str = Form(...), role: str = Form(...),
             unit_code: str = Form("")):
    state = request.app.state.hailong
    username = username.strip().lower()
    unit = _unit(request, unit_code)
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
    unit = _unit(request, unit_code)
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
def audit_page(request: Request, page: int = 0, action: str = "", since: str = Query("", alias="from"), until: str = Query("", alias="to")):
    """The audit log in words, with names beside codes (``sync_server/web/audit_view.py``); filters by action
    and by the province's days (``from``/``to``, both included)."""
    state = request.app.state.hailong
    storage = state.storage
    page = max(0, min(page, 10_000))
    lang = request_lang(request)
    t = translator(lang)
    actions = storage.audit_actions()
    chosen = action.strip() if action.strip() in actions else None
    zone = days.province_now(state.settings).tzinfo
    try:
        start = parse_day(since) if since.strip() else None
        end = parse_day(until) if until.strip() else None
    except ValueError:
        raise FormError(t("au_err_day")) from None
    rows = storage.audit_log(limit=100, offset=page * 100, action=chosen,
                             since=datetime.combine(start, time(0), zone) if start else None,
                             before=datetime.combine(end + timedelta(days=1), time(0), zone) if end else None)
    query = urlencode({k: v for k, v in (("action", chosen), ("from", since.strip()), ("to", until.strip())) if v})
    return render(request, "audit.html", rows=describe(storage, rows, t, lang), page=page, actions=actions, action=chosen,
                  since=start, until=end, query=query, labels={a: _label(t, lang, a) for a in actions})


def _label(t, lang: str, action: str) -> str:
    key = "au_a_" + action.replace(".", "_")
    return t(key) if key in catalogue(lang) or key in catalogue("vi") else action


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
