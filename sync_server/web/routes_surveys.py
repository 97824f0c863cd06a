"""Questionnaire versions (draft → published, immutable afterwards) and campaigns."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from fastapi import File, Form, Request, UploadFile

from hailong_core.questionnaire import QuestionnaireError, parse_questionnaire
from hailong_core.timeutil import parse_day
from sync_server import days
from sync_server.storage import StorageRefused
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, confirmed, viewer
from sync_server.web.render import done, render
from sync_server.web.sites_view import reused_codes

pages = Pages()


def parse_document(text: str) -> dict:
    """A questionnaire JSON document, validated; errors name the field."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FormError(f"not valid JSON: {exc}") from None
    try:
        parse_questionnaire(doc)
    except QuestionnaireError as exc:
        raise FormError(f"{exc.path or 'document'}: {exc.message}") from None
    return doc


@pages.get("/admin/questionnaires", access="province_read")
def questionnaires_page(request: Request, on: str | None = None):
    """Versions and campaigns; the campaign's unit picker lists the structure in force today, or on ``on``."""
    state = request.app.state.hailong
    storage = state.storage
    today = days.local_today(state.settings).isoformat()
    try:
        day = parse_day(on).isoformat() if on else today
    except ValueError:
        day = today
    versions = storage.questionnaire_versions()
    points = storage.units_as_of(day)
    return render(request, "questionnaires.html", versions=versions, campaigns=storage.campaigns(),
                  default_id=storage.get_config("default_questionnaire", "bg-friendly-gov"),
                  published=[v for v in versions if v["published_at"]],
                  names={u["code"]: u["name"] for u in storage.units()},
                  points=points, reused=reused_codes(storage, points), day=day, today=today)


@pages.post("/admin/questionnaires", access="admin")
async def questionnaire_create(request: Request, document: str = Form(""), file: UploadFile | None = File(None)):
    storage = request.app.state.hailong.storage
    raw = await file.read() if file is not None else b""
    text = raw.decode("utf-8", errors="replace") if raw else document
    doc = parse_document(text)
    _save(request, doc, "questionnaire.draft")
    return done(f"/admin/questionnaires/{doc['id']}/{doc['version']}", "ok_saved")


def _save(request: Request, doc: dict, action: str) -> None:
    storage = request.app.state.hailong.storage
    now = datetime.now(timezone.utc)
    try:
        storage.save_questionnaire_draft(doc, now)
    except StorageRefused as exc:
        raise FormError(exc.message) from None
    storage.audit(now, viewer(request).user, action, f"{doc['id']} v{doc['version']}", None, client_ip(request))


@pages.get("/admin/questionnaires/{qid}/{version}", access="province_read")
def questionnaire_page(request: Request, qid: str, version: int):
    storage = request.app.state.hailong.storage
    found = storage.questionnaire_version(qid, version)
    if found is None:
        raise PageNotFound()
    return render(request, "questionnaire.html", q=found, parsed=parse_questionnaire(found["body"]),
                  source=json.dumps(found["body"], ensure_ascii=False, indent=2))


@pages.post("/admin/questionnaires/{qid}/{version}", access="admin")
def questionnaire_edit(request: Request, qid: str, version: int, document: str = Form(...)):
    storage = request.app.state.hailong.storage
    if storage.questionnaire_version(qid, version) is None:
        raise PageNotFound()
    doc = parse_document(document)
    if (doc["id"], doc["version"]) != (qid, version):
        raise FormError(f"id and version must stay {qid} / {version}; save a new version from the list page instead")
    _save(request, doc, "questionnaire.edit")
    return done(f"/admin/questionnaires/{qid}/{version}", "ok_saved")


@pages.post("/admin/questionnaires/{qid}/{version}/publish", access="admin")
def questionnaire_publish(request: Request, qid: str, version: int):
    state = request.app.state.hailong
    now = datetime.now(timezone.utc)
    try:
        state.storage.publish_questionnaire(qid, version, now)
    except StorageRefused:
        raise PageNotFound() from None
    state.index.invalidate()
    state.storage.audit(now, viewer(request).user, "questionnaire.publish", f"{qid} v{version}", None, client_ip(request))
    return done(f"/admin/questionnaires/{qid}/{version}", "ok_published")


@pages.post("/admin/questionnaires/default", access="admin")
def questionnaire_default(request: Request, qid: str = Form(...)):
    storage = request.app.state.hailong.storage
    if not any(v["id"] == qid and v["published_at"] for v in storage.questionnaire_versions()):
        raise FormError(f"{qid!r} has no published version")
    storage.set_config("default_questionnaire", qid)
    storage.audit(datetime.now(timezone.utc), viewer(request).user, "questionnaire.default", qid, None, client_ip(request))
    return done("/admin/questionnaires", "ok_saved")


@pages.post("/admin/campaigns", access="admin")
async def campaign_add(request: Request, name: str = Form(...), starts_on: str = Form(...), ends_on: str = Form(...),
                       questionnaire: str = Form(...)):
    storage = request.app.state.hailong.storage
    form = await request.form()
    units = [u.strip() for u in form.getlist("units") if isinstance(u, str) and u.strip()]
    try:
        start, end = parse_day(starts_on), parse_day(ends_on)
    except ValueError:
        raise FormError("dates are DD/MM/YYYY") from None
    if end < start:
        raise FormError("the campaign ends before it starts")
    if not name.strip():
        raise FormError("the campaign needs a name")
    if not units:
        raise FormError("choose at least one unit (the province covers every point)")
    unknown = [u for u in units if storage.unit(u) is None]
    if unknown:
        raise FormError(f"unknown unit(s): {', '.join(unknown)}")
    qid, _, version = questionnaire.rpartition(":")
    now = datetime.now(timezone.utc)
    try:
        cid = storage.add_campaign(name.strip(), start.isoformat(), end.isoformat(), qid, int(version), units, now)
    except (StorageRefused, ValueError) as exc:
        raise FormError(getattr(exc, "message", None) or "choose a published questionnaire version") from None
    storage.audit(now, viewer(request).user, "campaign.add", str(cid),
                  {"name": name, "starts_on": starts_on, "ends_on": ends_on, "questionnaire": questionnaire, "units": units},
                  client_ip(request))
    return done("/admin/questionnaires", "ok_saved")


@pages.post("/admin/campaigns/{campaign_id}/delete", access="admin")
def campaign_delete(request: Request, campaign_id: int, confirm: str = Form("")):
    storage = request.app.state.hailong.storage
    if storage.campaign(campaign_id) is None:
        raise PageNotFound()
    confirmed(request, confirm)
    if not storage.delete_campaign(campaign_id):
        raise PageNotFound()
    storage.audit(datetime.now(timezone.utc), viewer(request).user, "campaign.delete", str(campaign_id), None, client_ip(request))
    return done("/admin/questionnaires", "ok_deleted")
