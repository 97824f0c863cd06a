"""Protocol v1 for relays (issue 17): an office's sync server forwards its answers here and
mirrors its config from here, with the device token it got from a relay enrolment code."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from sync_server import bodies
from sync_server.access_rules import rule
from sync_server.api.kiosk import ERRORS, ETAG_HEADER, token_device
from sync_server.errors import ApiError
from sync_server.ingest import ingest_relayed
from sync_server.relay import upstream_config
from sync_server.storage import Device

router = APIRouter(prefix="/api/v1/relay")


async def current_relay(request: Request) -> Device:
    device = await token_device(request)
    if device.kind != "relay":
        raise ApiError("relay_token_required")
    return device


@router.post("/responses", responses=ERRORS, summary="A relay's batch: its answers with the kiosk each came from; one result per item",
             description="Body `{\"responses\": [{\"record\": {…}, \"device_id\", \"placed_ms\", \"clock_suspect\"}], \"device_time\"}` "
                         "(gzip allowed). Answers `{results: [{id, status, error?}], server_time}` as `/kiosk/responses`; an "
                         "answer of a unit outside the relay's subtree is `rejected` with `unit_out_of_scope`.")
@rule("device")
async def relay_upload(request: Request, relay: Device = Depends(current_relay)):
    state = request.app.state.hailong
    settings = state.settings
    bodies.check_json_content_type(request)
    raw = await bodies.read_body(request, settings.max_body_bytes, settings.max_inflated_bytes)
    body = bodies.parse_json(raw)
    answer = await run_in_threadpool(ingest_relayed, state.storage, relay, body, max_items=settings.max_batch_items,
                                     skew_s=settings.clock_skew_s, questionnaires=state.questionnaires(),
                                     in_scope=upstream_config.in_scope(state.storage, relay.unit_code),
                                     on_roster=state.rosters.knows, created_floor=settings.created_at_floor,
                                     utc_offset_h=settings.utc_offset_h)
    return Response(orjson.dumps(answer), media_type="application/json")


@router.get("/config", responses={**ERRORS, 200: {"headers": ETAG_HEADER}, 304: {"description": "Not modified", "headers": ETAG_HEADER}},
            summary="What the relay mirrors for its subtree: questionnaires, campaigns, officers, kiosk values (ETag)")
@rule("device")
def relay_config(request: Request, relay: Device = Depends(current_relay)):
    storage = request.app.state.hailong.storage
    body, etag = upstream_config.payload(upstream_config.build(storage, relay.unit_code))
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})
