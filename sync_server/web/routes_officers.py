"""Officer rosters: list, add, CSV import, edit, photo, PIN, deactivate (history is kept)."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime, timezone

from fastapi import File, Form, Request, UploadFile

from hailong_core import procedure_groups
from sync_server import accounts, days
from sync_server.site_rules import SiteRefused, new_officer_id, officer_site, officer_unit
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, ensure_scope, scope, viewer
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render
from sync_server.web.sites_view import sites_in_force

pages = Pages()
CSV_COLUMNS = ("unit_code", "name", "title", "pin", "id", "procedure_group", "site_id")


def _group(value: str | None) -> str | None:
    """A procedure group from a form or CSV: empty → none; otherwise a code of the catalogue."""
    value = (value or "").strip()
    if not value:
        return None
    if value not in procedure_groups.codes():
        raise FormError(f"unknown procedure group {value!r}; known: {', '.join(procedure_groups.codes())}")
    return value
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def photo_data_url(raw: bytes, max_kb: int) -> str:
    """A small JPEG or PNG as a data URL (no resizing on the server: no imaging library)."""
    kind = next((mime for magic, mime in _MAGIC.items() if raw.startswith(magic)), None)
    if kind is None:
        raise FormError("the photo must be a JPEG or PNG file")
    if len(raw) > max_kb * 1024:
        raise FormError(f"the photo is {len(raw) // 1024} KB; at most {max_kb} KB (e.g. 240×320 pixels)")
    return f"data:{kind};base64," + base64.b64encode(raw).decode()


def _unit_or_error(storage, code: str) -> dict:
    try:
        return officer_unit(storage, code)
    except SiteRefused as exc:
        raise FormError(exc.message) from None


def _today(request: Request) -> str:
    return days.local_today(request.app.state.hailong.settings).isoformat()


def _site_or_error(request: Request, unit_code: str, site_id: str | None) -> int | None:
    """The officer's site (None: the whole unit) if it is an open site of ``unit_code`` today."""
    try:
        return officer_site(request.app.state.hailong.storage, unit_code, site_id, _today(request))
    except SiteRefused as exc:
        t = translator(request_lang(request))
        raise FormError(t("officer_site_err", unit=unit_code) + f" ({exc.message})") from None


def site_choices(storage, points: list[dict], always: set[str] = frozenset()) -> dict[str, list[dict]]:
    """The open sites a picker offers, per unit: units with two or more sites, and those of ``always``
    (a unit of one site needs no choice: an officer of no site is at its one site's kiosks)."""
    sites = sites_in_force(storage, points)
    return {code: found for code, found in sites.items() if len(found) > 1 or (code in always and found)}


@pages.get("/admin/officers", access="user")
def officers_page(request: Request, unit: str | None = None):
    storage = request.app.state.hailong.storage
    allowed = scope(request)
    wanted = allowed if unit is None else ({unit} & allowed if allowed is not None else {unit})
    names = {u["code"]: u["name"] for u in storage.units()}
    points = [u for u in storage.units() if u["valid_to"] is None and u["level"] != "province"
              and (allowed is None or u["code"] in allowed)]
    site_names = {s["id"]: s["name"] for s in storage.sites(include_closed=True)}
    choices = site_choices(storage, [p for p in points if unit is None or p["code"] == unit], {unit} if unit else set())
    return render(request, "officers.html", officers=storage.officers(wanted), names=names, unit=unit, points=points,
                  site_names=site_names, site_choices=choices)


@pages.post("/admin/officers", access="admin")
async def officer_add(request: Request, unit_code: str = Form(...), name: str = Form(...), title: str = Form(""),
                      pin: str = Form(""), procedure_group: str = Form(""), site_id: str = Form(""),
                      photo: UploadFile | None = File(None)):
    state = request.app.state.hailong
    _unit_or_error(state.storage, unit_code.strip())
    site = _site_or_error(request, unit_code.strip(), site_id)
    group = _group(procedure_group)
    name = name.strip()
    if not name or len(name) > 120:
        raise FormError("the officer's name is required (at most 120 characters)")
    pin_hash = accounts.hash_secret(_pin(pin)) if pin else None
    raw = await photo.read() if photo is not None else b""
    data_url = photo_data_url(raw, state.settings.officer_photo_max_kb) if raw else None
    oid = new_officer_id()
    now = datetime.now(timezone.utc)
    state.storage.add_officer(oid, unit_code.strip(), name, title.strip() or None, data_url, pin_hash, now, site_id=site)
    if group:
        state.storage.update_officer(oid, now, procedure_group=group)
    state.storage.audit(now, viewer(request).user, "officer.add", oid,
                        {"unit_code": unit_code, "name": name, "procedure_group": group, "site_id": site}, client_ip(request))
    return done(f"/admin/officers/{oid}", "ok_saved")


def _pin(pin: str) -> str:
    try:
        return accounts.check_pin(pin.strip())
    except accounts.AccountError as exc:
        raise FormError(str(exc)) from None


@pages.post("/admin/officers/import", access="admin")
async def officers_import(request: Request, file: UploadFile = File(...)):
    """CSV with the header ``unit_code,name,title[,pin][,id][,procedure_group][,site_id]``; an ``id`` already known updates
    that officer (``site_id``: one of the unit's open sites, empty for the whole unit)."""
    state = request.app.state.hailong
    storage = state.storage
    try:
        text = (await file.read()).decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise FormError("the file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not {"unit_code", "name"} <= set(header) or set(header) - set(CSV_COLUMNS):
        raise FormError(f"the CSV header must be made of {','.join(CSV_COLUMNS)} (unit_code and name required)")
    rows = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        if not row.get("name"):
            raise FormError(f"line {line}: name is required")
        try:
            _unit_or_error(storage, row["unit_code"])
        except FormError as exc:
            raise FormError(f"line {line}: {exc.message}") from None
        try:
            row["procedure_group"] = _group(row.get("procedure_group"))
            row["site_id"] = _site_or_error(request, row["unit_code"], row.get("site_id"))
        except FormError as exc:
            raise FormError(f"line {line}: {exc.message}") from None
        if row.get("pin"):
            try:
                accounts.check_pin(row["pin"])
            except accounts.AccountError as exc:
                raise FormError(f"line {line}: {exc}") from None
        rows.append(row)
    now = datetime.now(timezone.utc)
    added = updated = 0
    for row in rows:  # validated first: a bad line stores nothing
        pin_hash = accounts.hash_secret(row["pin"]) if row.get("pin") else None
        oid = row.get("id") or new_officer_id()
        if row.get("id") and storage.officer(oid) is not None:
            fields = {"unit_code": row["unit_code"], "name": row["name"], "title": row.get("title") or None}
            if "procedure_group" in header:
                fields["procedure_group"] = row["procedure_group"]
            if "site_id" in header:
                fields["site_id"] = row["site_id"]
            if pin_hash:
                fields["pin_hash"] = pin_hash
            storage.update_officer(oid, now, **fields)
            updated += 1
        else:
            storage.add_officer(oid, row["unit_code"], row["name"], row.get("title") or None, None, pin_hash, now,
                                site_id=row["site_id"])
            if row["procedure_group"]:
                storage.update_officer(oid, now, procedure_group=row["procedure_group"])
            added += 1
    storage.audit(now, viewer(request).user, "officers.import", file.filename, {"added": added, "updated": updated}, client_ip(request))
    return done("/admin/officers", "ok_imported")


def _officer_in_scope(request: Request, officer_id: str) -> dict:
    officer = request.app.state.hailong.storage.officer(officer_id)
    if officer is None:
        raise PageNotFound()
    ensure_scope(request, officer["unit_code"])
    return officer


@pages.get("/admin/officers/{officer_id}", access="user")
def officer_page(request: Request, officer_id: str):
    officer = _officer_in_scope(request, officer_id)
    storage = request.app.state.hailong.storage
    officer["has_pin"] = officer.pop("pin_hash") is not None
    unit = storage.unit(officer["unit_code"])
    points = [u for u in storage.units() if u["valid_to"] is None and u["level"] != "province"]
    site = storage.site(officer["site_id"]) if officer["site_id"] is not None else None
    return render(request, "officer.html", officer=officer, unit=unit, points=points, site=site,
                  names={u["code"]: u["name"] for u in points}, site_choices=site_choices(storage, points, {officer["unit_code"]}))


@pages.post("/admin/officers/{officer_id}", access="admin")
async def officer_edit(request: Request, officer_id: str, name: str = Form(...), title: str = Form(""),
                       unit_code: str = Form(...), active: str = Form(""), remove_photo: str = Form(""),
                       procedure_group: str = Form(""), site_id: str = Form(""), photo: UploadFile | None = File(None)):
    state = request.app.state.hailong
    _officer_in_scope(request, officer_id)
    _unit_or_error(state.storage, unit_code.strip())
    if not name.strip():
        raise FormError("the officer's name is required")
    fields = {"name": name.strip(), "title": title.strip() or None, "unit_code": unit_code.strip(), "active": bool(active),
              "procedure_group": _group(procedure_group), "site_id": _site_or_error(request, unit_code.strip(), site_id)}
    raw = await photo.read() if photo is not None else b""
    if raw:
        fields["photo"] = photo_data_url(raw, state.settings.officer_photo_max_kb)
    elif remove_photo:
        fields["photo"] = None
    now = datetime.now(timezone.utc)
    state.storage.update_officer(officer_id, now, **fields)
    detail = {k: v for k, v in fields.items() if k != "photo"} | ({"photo": "changed"} if "photo" in fields else {})
    state.storage.audit(now, viewer(request).user, "officer.edit", officer_id, detail, client_ip(request))
    return done(f"/admin/officers/{officer_id}", "ok_saved")


@pages.post("/admin/officers/{officer_id}/pin", access="admin")
def officer_pin(request: Request, officer_id: str, pin: str = Form(...)):
    storage = request.app.state.hailong.storage
    _officer_in_scope(request, officer_id)
    now = datetime.now(timezone.utc)
    storage.update_officer(officer_id, now, pin_hash=accounts.hash_secret(_pin(pin)))
    storage.audit(now, viewer(request).user, "officer.pin", officer_id, None, client_ip(request))
    return done(f"/admin/officers/{officer_id}", "ok_pin")
