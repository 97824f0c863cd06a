"""The dossier register on the admin pages (issue 14): upload the file a one-stop information system
exports (CSV or XLSX), with an optional column mapping; see what was added, updated or refused with
line numbers. The same use case as ``hailong-server import-dossiers`` (:func:`sync_server.dossiers.import_register`):
a file with one bad row stores nothing. Province admin uploads; the province analyst reads."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import File, Form, Request, UploadFile

from sync_server.dossiers import MappingError, import_register
from sync_server.web.access import Pages, viewer
from sync_server.web.render import render

pages = Pages()
RECENT = 20


def _recent(storage) -> list[dict]:
    """The last register imports, from the audit log (each file's entry)."""
    return [e for e in storage.audit_log(400) if e["action"] == "dossiers.import"][:RECENT]


def _page(request: Request, *, result=None, error: str | None = None, mapping: str = "", status: int = 200):
    storage = request.app.state.hailong.storage
    return render(request, "dossiers.html", status_code=status, result=result, error=error, mapping=mapping,
                  count=storage.dossier_count(), recent=_recent(storage),
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
