"""The conflicts review page: answers whose id arrived again with other content, side by side."""

from __future__ import annotations

from fastapi import Form, Request

from sync_server import conflicts_review
from sync_server.web.access import FormError, Pages, client_ip, viewer
from sync_server.web.render import done, render

pages = Pages()


@pages.get("/admin/conflicts", access="province_read")
def conflicts_page(request: Request, page: int = 0, all: int = 0):
    storage = request.app.state.hailong.storage
    listing = conflicts_review.list_conflicts(storage, include_reviewed=bool(all), page=page)
    names = {u["code"]: u["name"] for u in storage.units()}
    return render(request, "conflicts.html", listing=listing, show_all=bool(all), names=names)


@pages.post("/admin/conflicts/review", access="admin")
def conflicts_review_post(request: Request, id: int = Form(...), note: str = Form(""), back: str = Form("")):
    me = viewer(request).user
    try:
        conflicts_review.review(request.app.state.hailong.storage, id, by=me.username, note=note, user=me, ip=client_ip(request))
    except conflicts_review.ReviewRefused as exc:
        raise FormError(str(exc)) from None
    return done("/admin/conflicts?all=1" if back == "all" else "/admin/conflicts", "ok_reviewed")
