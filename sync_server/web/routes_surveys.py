"""Questionnaire versions (draft → published, immutable afterwards) and campaigns."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from fastapi import File, Form, Request, UploadFile

from hailong_core.questionnaire import QuestionnaireError, parse_questionnaire
from hailong_core.timeutil import format_day, parse_day
from sync_server import days
from sync_server.kiosk_config import province_today
from sync_server.storage import StorageRefused
from sync_server.web import questionnaire_form as qform
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, confirmed, viewer
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render
from sync_server.web.sites_view import reused_codes
from sync_server.web.unit_picker import posted_codes, unit_tree

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
    """Versions and campaigns; the campaign's unit picker shows the structure in force today, or on ``on``."""
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
                  tree=unit_tree(points), reused=reused_codes(storage, points), day=day, today=today,
                  province_day=province_today(state.settings.utc_offset_h))


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


def _editor(request: Request, found: dict, state: dict, *, error: dict | None = None, checked: bool = False,
            status_code: int = 200):
    criteria = [c["id"] for c in state["criteria"] if c["id"]]
    return render(request, "questionnaire_editor.html", status_code=status_code, q=found, f=state, error=error,
                  checked=checked, criteria=criteria, kinds=qform.KINDS, channel_choices=qform.CHANNEL_CHOICES)


@pages.get("/admin/questionnaires/{qid}/{version}/edit", access="admin")
def questionnaire_editor(request: Request, qid: str, version: int):
    """The form editor: a draft's questions, levels, options, follow-ups and criteria; a published version read-only."""
    found = request.app.state.hailong.storage.questionnaire_version(qid, version)
    if found is None:
        raise PageNotFound()
    return _editor(request, found, qform.padded(qform.state_from_document(found["body"])))


@pages.post("/admin/questionnaires/{qid}/{version}/edit", access="admin")
async def questionnaire_editor_post(request: Request, qid: str, version: int):
    """``action=save`` validates the document the form makes (the JSON path's validator) and stores the draft;
    ``check`` only validates; ``add_question`` shows the form again with one more blank question. Nothing is
    stored unless the whole document is valid."""
    storage = request.app.state.hailong.storage
    found = storage.questionnaire_version(qid, version)
    if found is None:
        raise PageNotFound()
    t = _t(request)
    if found["published_at"]:
        raise FormError(t("err_questionnaire_published", qid=qid, version=version))
    form = await request.form()
    action = str(form.get("action") or "save")
    state = qform.padded(qform.state_from_form(form, qid, version), extra_questions=1 if action == "add_question" else 0)
    if action == "add_question":
        return _editor(request, found, state)
    doc, places = qform.document_from_state(state)
    try:
        parse_questionnaire(doc)
    except QuestionnaireError as exc:
        error = {"path": exc.path or "document", "message": exc.message, "place": qform.place_of(exc.path, places)}
        return _editor(request, found, state, error=error, status_code=400)
    if action == "check":
        return _editor(request, found, state, checked=True)
    _save(request, doc, "questionnaire.edit")
    return done(f"/admin/questionnaires/{qid}/{version}/edit", "ok_saved")


@pages.post("/admin/questionnaires/{qid}/{version}/copy", access="admin")
def questionnaire_copy(request: Request, qid: str, version: int):
    """A new draft (the next free version number) with this version's content: how a published one is changed."""
    storage = request.app.state.hailong.storage
    found = storage.questionnaire_version(qid, version)
    if found is None:
        raise PageNotFound()
    following = 1 + max(v["version"] for v in storage.questionnaire_versions() if v["id"] == qid)
    _save(request, {**found["body"], "version": following}, "questionnaire.draft")
    return done(f"/admin/questionnaires/{qid}/{following}/edit", "ok_saved")


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


def _t(request: Request):
    return translator(request_lang(request))


async def _campaign_fields(request: Request) -> dict:
    """A campaign form's fields, checked: name, window, a published version, known unit codes."""
    storage = request.app.state.hailong.storage
    t = _t(request)
    form = await request.form()
    name = str(form.get("name") or "").strip()
    try:
        start, end = parse_day(str(form.get("starts_on") or "")), parse_day(str(form.get("ends_on") or ""))
    except ValueError:
        raise FormError(t("err_campaign_dates")) from None
    if end < start:
        raise FormError(t("err_campaign_ends_first"))
    if not name:
        raise FormError(t("err_campaign_name"))
    units = posted_codes(storage, form.getlist("units"), t)
    if not units:
        raise FormError(t("err_campaign_units"))
    qid, _, version = str(form.get("questionnaire") or "").rpartition(":")
    if not version.isdigit() or not any(v["id"] == qid and v["version"] == int(version) and v["published_at"]
                                        for v in storage.questionnaire_versions()):
        raise FormError(t("err_campaign_questionnaire"))
    return {"name": name, "starts_on": start.isoformat(), "ends_on": end.isoformat(), "qid": qid, "version": int(version),
            "units": units}


@pages.post("/admin/campaigns", access="admin")
async def campaign_add(request: Request):
    storage = request.app.state.hailong.storage
    f = await _campaign_fields(request)
    now = datetime.now(timezone.utc)
    try:
        cid = storage.add_campaign(f["name"], f["starts_on"], f["ends_on"], f["qid"], f["version"], f["units"], now)
    except StorageRefused as exc:
        raise FormError(exc.message) from None
    storage.audit(now, viewer(request).user, "campaign.add", str(cid),
                  {"name": f["name"], "starts_on": f["starts_on"], "ends_on": f["ends_on"],
                   "questionnaire": f"{f['qid']}:{f['version']}", "units": f["units"]}, client_ip(request))
    return done("/admin/questionnaires", "ok_saved")


def _started(campaign: dict, today: str) -> bool:
    """A campaign is locked from its first day (province time): answers may already be counted under it."""
    return campaign["starts_on"] <= today


@pages.get("/admin/campaigns/{campaign_id}", access="province_read")
def campaign_page(request: Request, campaign_id: int):
    """The campaign's edit form while it has not started; after that, what it is and why it is locked."""
    state = request.app.state.hailong
    storage = state.storage
    campaign = storage.campaign(campaign_id)
    if campaign is None:
        raise PageNotFound()
    today = province_today(state.settings.utc_offset_h)
    # The picker shows the structure in force on the campaign's first day; a chosen unit not in it stays listed.
    points = storage.units_as_of(campaign["starts_on"])
    in_force = {u["code"] for u in points}
    extra = [u for u in (storage.unit(c) for c in campaign["units"] if c not in in_force) if u]
    versions = storage.questionnaire_versions()
    return render(request, "campaign_edit.html", c=campaign, started=_started(campaign, today), today=today,
                  published=[v for v in versions if v["published_at"]], tree=unit_tree(points, extra, campaign["units"]),
                  reused=reused_codes(storage, points), names={u["code"]: u["name"] for u in storage.units()})


@pages.post("/admin/campaigns/{campaign_id}", access="admin")
async def campaign_edit(request: Request, campaign_id: int):
    state = request.app.state.hailong
    storage = state.storage
    campaign = storage.campaign(campaign_id)
    if campaign is None:
        raise PageNotFound()
    t = _t(request)
    today = province_today(state.settings.utc_offset_h)
    if _started(campaign, today):
        raise FormError(t("err_campaign_started", day=format_day(campaign["starts_on"])))
    f = await _campaign_fields(request)
    try:
        storage.update_campaign(campaign_id, f["name"], f["starts_on"], f["ends_on"], f["qid"], f["version"], f["units"],
                                today, datetime.now(timezone.utc), viewer(request).user, client_ip(request))
    except StorageRefused as exc:
        if exc.code == "not_found":
            raise PageNotFound() from None
        if exc.code == "campaign_started":  # it started between the check above and the write
            raise FormError(t("err_campaign_started", day=format_day(campaign["starts_on"]))) from None
        raise FormError(exc.message) from None
    return done(f"/admin/campaigns/{campaign_id}", "ok_saved")


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
