"""Forwarding upstream (issue 17), at both ends: at a relay, what waits to go up and since when, the
last forward and error, and the answers the upstream refused (kept aside, with the reason); at any
server, the relays enrolled here, with their scope and last upload. Province admins only."""

from __future__ import annotations

from fastapi import Request

from sync_server.relay.status import status_details
from sync_server.web.access import Pages
from sync_server.web.render import render

pages = Pages()


@pages.get("/admin/upstream", access="admin")
def upstream_page(request: Request):
    storage = request.app.state.hailong.storage
    names = {u["code"]: u["name"] for u in storage.units()}
    relays = storage.devices(kind="relay")
    return render(request, "upstream.html", details=status_details(storage), relays=relays, names=names)
