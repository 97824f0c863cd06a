"""Validate an upload and turn it into per-item results (the same for every storage back end).

The whole body's shape is checked first (a wrong shape is the client's bug: 4xx, nothing stored);
then each item on its own, so one bad item is ``rejected`` with its reason and never blocks the
rest. The unit comes from the device's token: an item that claims another unit is rejected.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hailong_core.questionnaire import Questionnaire
from hailong_core.response import RecordError, canonical_json, check_record, hash_canonical
from hailong_core.timeutil import format_rfc3339, parse_rfc3339
from sync_server.errors import ApiError
from sync_server.storage import Device, PreparedResponse, Storage

BATCH_FIELDS = frozenset(("responses", "device_time"))


def check_batch_shape(body: Any, max_items: int) -> tuple[list, str | None]:
    """``(items, device_time)`` from an upload body, or :class:`ApiError`."""
    if not isinstance(body, dict):
        raise ApiError("invalid_body", "the body must be a JSON object {\"responses\": [...]}")
    unknown = sorted(set(body) - BATCH_FIELDS)
    if unknown:
        raise ApiError("unknown_field", f"unknown field {unknown[0]!r} in the upload body")
    items = body.get("responses")
    if not isinstance(items, list):
        raise ApiError("invalid_body", "'responses' must be a list")
    if len(items) > max_items:
        raise ApiError("batch_too_large", f"{len(items)} responses in one batch; at most {max_items}")
    device_time = body.get("device_time")
    if device_time is not None and not isinstance(device_time, str):
        raise ApiError("invalid_body", "'device_time' must be an RFC 3339 string")
    return items, device_time


def clock_offset(device_time: str | None, received: datetime) -> float | None:
    """Seconds the device's clock is ahead of the server's (None when unknown or unparsable)."""
    if device_time is None:
        return None
    try:
        return (parse_rfc3339(device_time) - received).total_seconds()
    except ValueError:
        return None


def ingest(storage: Storage, device: Device | None, body: Any, *, max_items: int, skew_s: float,
           questionnaires: dict[tuple[str, int], Questionnaire], unit_code: str | None = None,
           now: datetime | None = None) -> dict:
    """Store what is valid; return ``{"results": [...], "server_time": ...}`` in item order.

    ``device`` decides the unit (contract 6); ``unit_code`` is used instead for channels without
    a device (the phone form).
    """
    received = now or datetime.now(timezone.utc)
    items, device_time = check_batch_shape(body, max_items)
    offset = clock_offset(device_time, received)
    suspect = offset is not None and abs(offset) > skew_s
    owner_unit = device.unit_code if device is not None else unit_code
    received_text = format_rfc3339(received)
    future_limit = received.timestamp() + skew_s

    results: list[dict | None] = [None] * len(items)
    prepared: list[PreparedResponse] = []
    positions: list[int] = []
    for index, item in enumerate(items):
        try:
            record, created = check_record(item, questionnaires)
            if record["unit_code"] != owner_unit:
                raise RecordError("unit_mismatch", f"this device belongs to unit {owner_unit}, not {record['unit_code']}", "unit_code")
        except RecordError as exc:
            rid = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
            results[index] = {"id": rid, "status": "rejected", "error": {"code": exc.code, "message": exc.message, "field": exc.field}}
            continue
        created_s = created.timestamp()
        # A created_at in the future (beyond the tolerance) means the device clock is off too.
        item_suspect = suspect or created_s > future_limit
        canonical = canonical_json(record)
        qref = record["questionnaire"]
        prepared.append(PreparedResponse(record["id"], hash_canonical(canonical), (
            record["unit_code"], record["officer_id"], qref["id"], qref["version"], record["channel"], record["seq"],
            record["created_at"], int(created_s * 1000), canonical_json(record["answers"]).decode(),
            canonical_json(record["flags"]).decode(), int(item_suspect), record.get("procedure_group"),
        ), canonical))
        positions.append(index)
    if prepared:
        stored = storage.store_batch(device, prepared, received_text, offset)
        for index, p, (status, message) in zip(positions, prepared, stored):
            entry: dict = {"id": p.id, "status": status}
            if status == "conflict":
                entry["error"] = {"code": "response_conflict", "message": message}
            results[index] = entry
    return {"results": results, "server_time": received_text}
