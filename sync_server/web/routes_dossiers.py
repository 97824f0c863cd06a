"""The dossier register on the admin pages (issue 14): upload the file a one-stop information system
exports (CSV or XLSX), with an optional column mapping; see what was added, updated or refused with
line numbers. The same use case as ``hailong-server import-dossiers`` (:func:`sync_server.dossiers.import_register`):
a file with one bad row stores nothing. Province admin uploads; the province analyst reads."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import File, Form, Request, UploadFile

from sync_server.dossiers import MappingError, import_register
from sync_server.kiosk_config import PatternError, set_unit_dossier_pattern, unit_dossier_pattern
from sync_server.web.access import Pages, client_ip, viewer
from sync_server.web.render import render

pages = Pages()
RECENT = 20


def _recent(storage) -> list[dict]:
    """The last register imports, from the audit log (each file's entry)."""
    return [e for e in storage.audit_log(400) if e["action"] == "dossiers.import"][:RECENT]


def _page(request: Request, *, result=None, error: str | None = None, mapping: str = "", status: int = 200,
          pattern_error: str | None = None, pattern_form: dict | None = None, unit_pattern: dict | None = None):
    state = request.app.state.hailong
    storage = state.storage
    return render(request, "dossiers.html", status_code=status, result=result, error=error, mapping=mapping,
                  count=storage.dossier_count(), recent=_recent(storage), province_pattern=state.settings.dossier_pattern,
                  pattern_error=pattern_error, pattern_form=pattern_form or {}, unit_pattern=unit_pattern,
                  is_admin=viewer(request).user.role == "province_admin")


@pages.get("/admin/dossiers", access="province_read")
def dossiers_page(request: Request):
    return _page(request)


@pages.post("/admin/dossiers", access="admin")
async def dossiers_upload(request: Request, file: UploadFile = File(...), mapping: str = Form("")):
    state = request.app.state.hailong
    limit = int(state.settings.dossier_import_max_mb * 1024 * 1024)
    data = await file.read(limit + 1)  # one byte more than allowed: the use case refuses it by size
    try:
        result = import_register(state.storage, state.settings, data, file.filename or "register.csv",
                                 mapping=mapping.strip() or None, user=viewer(request).user, via="web",
                                 now=datetime.now(timezone.utc))
    except MappingError as exc:
        return _page(request, error=str(exc), mapping=mapping, status=400)
    # The import's audit entry is written by the storage with the rows, in one transaction.
    return _page(request, result=result, mapping=mapping, status=200 if result.stored else 400)


@pages.post("/admin/dossiers/pattern", access="admin")
def dossiers_pattern(request: Request, unit_code: str = Form(""), pattern: str = Form(""), reset: str = Form("")):
    """Give one unit its own receipt-code pattern (a regular expression the whole, upper-cased code must
    match), or ``reset`` it to the province's setting; kiosks get it with their next config."""
    state = request.app.state.hailong
    code, pattern = unit_code.strip(), pattern.strip()
    form = {"unit_code": code, "pattern": pattern}
    unit = state.storage.unit(code) if code else None
    if unit is None:
        return _page(request, pattern_error="dos_pattern_unknown_unit", pattern_form=form, status=400)
    try:
        set_unit_dossier_pattern(state.storage, code, None if reset == "1" else pattern or "")
    except PatternError as exc:
        return _page(request, pattern_error="dos_pattern_invalid", pattern_form=dict(form, detail=str(exc)), status=400)
    state.storage.audit(datetime.now(timezone.utc), viewer(request).user, "dossier_pattern.set", code,
                        {"pattern": None if reset == "1" else pattern}, client_ip(request))
    return _page(request, unit_pattern={"code": code, "name": unit["name"],
                                        "pattern": unit_dossier_pattern(state.storage, state.settings, code)})
