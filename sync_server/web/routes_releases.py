"""Kiosk releases (remote update, issue 16): list them, the version each kiosk runs and what became of
the release staged for it; add a release; stage it to chosen kiosks first, then to all (confirmed);
withdraw it. Province admin only; every change is audited (``sync_server/releases.py``)."""

from __future__ import annotations

from collections import Counter

from fastapi import File, Form, Request, UploadFile

from sync_server import releases
from sync_server.web.access import FormError, Pages, client_ip, scope, viewer
from sync_server.web.fleet_view import silent_devices
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render

pages = Pages()


def _refused(request: Request, exc: releases.ReleaseRefused) -> FormError:
    """The refusal in the reader's language (Vietnamese first)."""
    return FormError(translator(request_lang(request))(f"release_err_{exc.reason}", **exc.values))


@pages.get("/admin/releases", access="admin")
def releases_page(request: Request):
    state = request.app.state.hailong
    storage = state.storage
    devices = [d for d in storage.devices(scope(request)) if not d["revoked_at"]]
    targets = storage.release_targets([d["id"] for d in devices])
    names = {u["code"]: u["name"] for u in storage.units()}
    versions = Counter(d["app_version"] or "?" for d in devices)
    silent = {d["id"] for d in silent_devices(devices, state.settings.fleet_silent_after_min)}
    return render(request, "releases.html", releases=storage.releases(), devices=devices, targets=targets, names=names,
                  versions=sorted(versions.items(), key=lambda kv: (-kv[1], kv[0])), silent=silent,
                  max_mb=state.settings.release_max_mb)


@pages.post("/admin/releases", access="admin")
async def release_upload(request: Request, file: UploadFile = File(...), notes: str = Form("")):
    state = request.app.state.hailong
    max_mb = state.settings.release_max_mb
    try:
        if file.size is not None and file.size > max_mb * 2**20:
            raise releases.ReleaseRefused("too_big", mb=round(file.size / 2**20, 1), max_mb=max_mb)
        content = await file.read(int(max_mb * 2**20) + 1)  # one byte past the cap is enough to refuse it
        releases.add(state.storage, state.settings, file.filename or "", content, notes=notes, user=viewer(request).user,
                     ip=client_ip(request))
    except releases.ReleaseRefused as exc:
        raise _refused(request, exc) from None
    return done("/admin/releases", "ok_release_added")


def _release_id(request: Request, value: str) -> int:
    value = value.strip()
    if not value.isdigit() or len(value) > 12:
        raise _refused(request, releases.ReleaseRefused("unknown_release", release=value[:20]))
    return int(value)


@pages.post("/admin/releases/stage", access="admin")
def release_stage(request: Request, release_id: str = Form(""), devices: list[str] = Form([]), everyone: str = Form(""),
                  confirm: str = Form("")):
    """Stage to the kiosks ticked, or, with ``everyone`` and its confirmation ticked, to every kiosk."""
    storage = request.app.state.hailong.storage
    rid = _release_id(request, release_id)
    if everyone == "1" and confirm != "1":
        raise FormError(translator(request_lang(request))("release_err_confirm"))
    try:
        releases.stage(storage, rid, devices=None if everyone == "1" else [d.strip() for d in devices if d.strip()],
                       everyone=everyone == "1", scope=scope(request), user=viewer(request).user, ip=client_ip(request))
    except releases.ReleaseRefused as exc:
        raise _refused(request, exc) from None
    return done("/admin/releases", "ok_release_staged")


@pages.post("/admin/releases/unstage", access="admin")
def release_unstage(request: Request, devices: list[str] = Form([])):
    """Withdraw what was staged for the kiosks ticked (a kiosk that switched already keeps its release)."""
    chosen = [d.strip() for d in devices if d.strip()]
    if not chosen:
        raise _refused(request, releases.ReleaseRefused("no_devices"))
    try:
        releases.unstage(request.app.state.hailong.storage, chosen, scope=scope(request), user=viewer(request).user,
                         ip=client_ip(request))
    except releases.ReleaseRefused as exc:
        raise _refused(request, exc) from None
    return done("/admin/releases", "ok_release_unstaged")
