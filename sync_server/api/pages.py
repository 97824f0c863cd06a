"""Health check (the admin pages live in ``sync_server.web``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sync_server.access_rules import rule

router = APIRouter()


@router.get("/healthz", summary="Liveness and database check")
@rule("public")
def healthz(request: Request) -> dict:
    storage = request.app.state.hailong.storage
    return {"status": "ok", "responses": storage.response_count()}
