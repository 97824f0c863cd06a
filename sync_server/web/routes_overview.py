"""The landing page after login: answers per point, within the viewer's scope."""

from __future__ import annotations

from fastapi import Request

from sync_server.kiosk_config import province_today
from sync_server.web.access import Pages, scope
from sync_server.web.fleet_view import silent_devices
from sync_server.web.render import render

pages = Pages()


@pages.get("/", access="user")
def overview(request: Request):
    state = request.app.state.hailong
    storage = state.storage
    allowed = scope(request)
    counts = storage.answers_per_unit()
    units = storage.units_as_of(province_today(state.settings.utc_offset_h))
    children: dict[str | None, list[dict]] = {}
    for u in units:
        children.setdefault(u["parent_code"], []).append(u)
    province = next((u for u in units if u["level"] == "province"), None)
    rows = []
    for u in children.get(province["code"] if province else None, []):
        subtree = [u] + children.get(u["code"], [])
        visible = [x for x in subtree if allowed is None or x["code"] in allowed]
        if not visible:
            continue
        rows.append({"unit": u, "points": len(visible), "answers": sum(counts.get(x["code"], 0) for x in visible),
                     "communes": [{"unit": c, "answers": counts.get(c["code"], 0)} for c in children.get(u["code"], [])
                                  if allowed is None or c["code"] in allowed]})
    devices = storage.devices(allowed)
    total = sum(n for code, n in counts.items() if allowed is None or code in allowed)
    return render(request, "overview.html", province=province, rows=rows, points=sum(r["points"] for r in rows),
                  total=total, devices=devices, silent=silent_devices(devices, state.settings.fleet_silent_after_min))
