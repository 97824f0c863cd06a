"""Health check and the first overview page (server-rendered, Vietnamese first, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/healthz", summary="Liveness and database check")
def healthz(request: Request) -> dict:
    storage = request.app.state.hailong.storage
    return {"status": "ok", "responses": storage.response_count()}


@router.get("/", response_class=HTMLResponse, summary="Overview: answers per point", include_in_schema=False)
def overview(request: Request):
    storage = request.app.state.hailong.storage
    counts = storage.answers_per_unit()
    units = storage.units()
    children: dict[str | None, list[dict]] = {}
    for u in units:
        children.setdefault(u["parent_code"], []).append(u)
    province = next(u for u in units if u["level"] == "province")
    rows = []
    for u in children.get(province["code"], []):
        subtree = [u] + children.get(u["code"], [])
        rows.append({"unit": u, "points": len(subtree), "answers": sum(counts.get(x["code"], 0) for x in subtree),
                     "communes": [{"unit": c, "answers": counts.get(c["code"], 0)} for c in children.get(u["code"], [])]})
    points = sum(1 for u in units if u["level"] != "province")
    return templates.TemplateResponse(request, "overview.html", {
        "province": province, "rows": rows, "points": points, "total": sum(counts.values()),
        "devices": storage.devices()})
