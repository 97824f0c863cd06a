"""Protocol v1 routes: enrolment, config, uploads, heartbeat, and the log a kiosk was asked for."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from hailong_core.response import canonical_json
from hailong_core.timeutil import format_rfc3339
from sync_server import bodies, clock_check, releases, security
from sync_server.api.models import (ConfigOut, EnrollIn, EnrollOut, ErrorBody, HeartbeatIn, HeartbeatOut, LogUploadIn, UploadIn,
                                    UploadOut)
from sync_server.errors import ApiError
from sync_server.ingest import clock_offset, ingest
from sync_server.kiosk_config import build_config, config_payload
from sync_server.storage import Device, EnrollRefused
from sync_server.access_rules import rule

router = APIRouter(prefix="/api/v1")

ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 415, 422, 500)}
ERRORS[503] = {"model": ErrorBody, "description": "The database cannot be reached (`database_unavailable`); retry after "
                                                  "the `Retry-After` seconds",
               "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}}
# Enrolment and heartbeat bodies are a few hundred bytes; no need to read megabytes for them.
SMALL_BODY_BYTES = 64 * 1024
# A log upload: 64 KiB of text, as JSON (escapes can make it several times larger), usually gzip.
LOG_BODY_BYTES, LOG_INFLATED_BYTES = 512 * 1024, 1024 * 1024


def _json_body(model: type[BaseModel]) -> dict:
    """``openapi_extra`` naming ``model`` as the request body: bodies are read by hand (size and
    depth caps before validation), so FastAPI does not see them as parameters."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


async def read_model(request: Request, model: type[BaseModel], max_bytes: int = SMALL_BODY_BYTES,
                     max_inflated: int | None = None):
    """The body parsed as ``model`` through the capped path (size, gzip, depth), then validated;
    validation errors leave as FastAPI's would (the same 422 shapes)."""
    settings = _state(request).settings
    bodies.check_json_content_type(request)
    inflated = settings.max_inflated_bytes if max_inflated is None else min(max_inflated, settings.max_inflated_bytes)
    raw = await bodies.read_body(request, min(max_bytes, settings.max_body_bytes), inflated)
    if not raw.strip():
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    value = bodies.parse_json(raw)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def _state(request: Request):
    return request.app.state.hailong


async def current_device(request: Request) -> Device:
    """The kiosk named by the Bearer token; 401 when missing or unknown, 403 when revoked or a relay's."""
    device = await token_device(request)
    if device.kind != "kiosk":
        raise ApiError("kiosk_token_required")
    return device


async def token_device(request: Request) -> Device:
    """The device (kiosk or relay) named by the Bearer token; 401 when missing or unknown, 403 when revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("missing_token", headers={"WWW-Authenticate": "Bearer"})
    state = _state(request)
    # One indexed read (~20 µs, never blocked by writers in WAL): cheaper inline than a thread hop.
    device = state.storage.device_by_token(security.digest(token.strip()))
    if device is None:
        raise ApiError("invalid_token", headers={"WWW-Authenticate": "Bearer"})
    if device.revoked:
        raise ApiError("device_revoked")
    return device


@router.post("/enroll", status_code=201, response_model=EnrollOut, responses=ERRORS,
             summary="Trade a single-use enrolment code for a device token", openapi_extra=_json_body(EnrollIn))
@rule("public")
async def enroll(request: Request) -> dict:
    body = await read_model(request, EnrollIn)
    return await run_in_threadpool(_enroll, request, body)


def _enroll(request: Request, body: EnrollIn) -> dict:
    state = _state(request)
    token = security.new_token()
    device_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    try:
        device = state.storage.redeem_enroll_code(security.digest(security.normalise_code(body.code)), now,
                                                  device_id, security.digest(token), body.name)
    except EnrollRefused as exc:
        raise ApiError("enroll_code_invalid", str(exc)) from None
    return {"device_id": device.id, "token": token, "unit_code": device.unit_code, "server_time": format_rfc3339(now),
            "name": device.name, "site_id": device.site_id, "counter": device.counter, "kind": device.kind}


ETAG_HEADER = {"ETag": {"description": "Hash of the document; send it back in If-None-Match", "schema": {"type": "string"}}}


@router.get("/kiosk/config", response_model=ConfigOut,
            responses={**ERRORS, 200: {"headers": ETAG_HEADER},
                       304: {"description": "Not modified: the If-None-Match ETag is current", "headers": ETAG_HEADER}},
            summary="The device's unit, officers, active questionnaire and settings (ETag)")
@rule("device")
def kiosk_config(request: Request, device: Device = Depends(current_device)):
    state = _state(request)
    payload, etag = config_payload(build_config(state.storage, state.settings, device.unit_code,
                                                   site_id=device.site_id, counter=device.counter, device_id=device.id))
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(payload, media_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.post("/kiosk/responses", response_model=UploadOut, responses=ERRORS,
             summary="Store a batch of responses; one result per item", openapi_extra=_json_body(UploadIn))
@rule("device")
async def upload(request: Request, device: Device = Depends(current_device)):
    state = _state(request)
    settings = state.settings
    bodies.check_json_content_type(request)
    raw = await bodies.read_body(request, settings.max_body_bytes, settings.max_inflated_bytes)
    body = bodies.parse_json(raw)
    answer = await run_in_threadpool(ingest, state.storage, device, body, max_items=settings.max_batch_items,
                                     skew_s=settings.clock_skew_s, questionnaires=state.questionnaires(),
                                     on_roster=state.rosters.knows, created_floor=settings.created_at_floor,
                                     utc_offset_h=settings.utc_offset_h)
    return Response(orjson.dumps(answer), media_type="application/json")


HEARTBEAT_ANSWERS = {
    **ERRORS,
    200: {"model": HeartbeatOut, "description": "The heartbeat carried `diagnostics` (issue 16): stored, and what the "
                                                "server asks of the kiosk (`log_request`)"},
    204: {"description": "Stored (a heartbeat without `diagnostics`, as kiosks before issue 16 send: they expect 204)"},
}


@router.post("/kiosk/heartbeat", status_code=204, responses=HEARTBEAT_ANSWERS, response_class=Response,
             summary="The device's pending count, last sync, app version, clock and diagnostics",
             openapi_extra=_json_body(HeartbeatIn))
@rule("device")
async def heartbeat(request: Request, device: Device = Depends(current_device)) -> Response:
    body = await read_model(request, HeartbeatIn)
    return await run_in_threadpool(_heartbeat, request, device, body)


def _heartbeat(request: Request, device: Device, body: HeartbeatIn) -> Response:
    state = _state(request)
    now = datetime.now(timezone.utc)
    info = body.model_dump()
    info["clock_offset_s"] = clock_offset(body.device_time, now)
    if body.diagnostics is not None:
        info["diagnostics"] = body.diagnostics.model_dump(exclude_none=True)
    state.storage.record_heartbeat(device.id, now, info)
    if body.update is not None:  # what became of the release staged for it (remote update)
        releases.note_report(state.storage, device, body.update.model_dump(exclude_none=True), now)
    if body.boot_id is not None and body.mono_ms is not None:
        # This boot's anchor: answers of the same boot that arrive later (after a reboot, by USB)
        # are placed by it if their wall clock was off (sync_server/clock_check.py).
        state.storage.note_boot(device.id, body.boot_id, clock_check.anchor(int(now.timestamp() * 1000), int(body.mono_ms)),
                                format_rfc3339(now))
    if body.diagnostics is None:
        return Response(status_code=204)  # kiosks before issue 16 treat anything else as a failure
    request_ = state.storage.device_log_request(device.id)
    answer = {"log_request": {"id": request_["id"], "lines": request_["lines"]} if request_ else None,
              "server_time": format_rfc3339(now)}
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/kiosk/log", status_code=204, responses=ERRORS, response_class=Response,
             summary="The log's last lines a log request (in a heartbeat answer) asked for", openapi_extra=_json_body(LogUploadIn))
@rule("device")
async def log_upload(request: Request, device: Device = Depends(current_device)) -> Response:
    body = await read_model(request, LogUploadIn, LOG_BODY_BYTES, LOG_INFLATED_BYTES)
    return await run_in_threadpool(_log_upload, request, device, body)


def _log_upload(request: Request, device: Device, body: LogUploadIn) -> Response:
    storage = _state(request).storage
    if not storage.store_device_log(device.id, body.request_id, "\n".join(body.lines), len(body.lines), body.truncated,
                                    datetime.now(timezone.utc)):
        raise ApiError("not_found", "this kiosk has no open log request with this id (answered already, or replaced)")
    return Response(status_code=204)


# Referenced by the hand-written request body schemas.
DOCUMENTED_MODELS = (UploadIn, EnrollIn, HeartbeatIn, LogUploadIn)
