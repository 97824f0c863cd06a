"""Validate an upload and turn it into per-item results (the same for every storage back end).

The whole body's shape is checked first (a wrong shape is the client's bug: 4xx, nothing stored);
then each item on its own, so one bad item is ``rejected`` with its reason and never blocks the
rest. The kind of sender decides what an item may claim (contracts 6 and 13): the unit is the
device's; the channel is ``kiosk`` for a device token and ``qr`` for the phone form; an
``officer_id`` must be on the roster of the device's unit. Where the answer is placed in time is
decided here too (contract 7): its device time, unless that clock was off — the batch's clock,
a time before ``created_at_floor`` or after the receipt, or the kiosk's boot clock saying otherwise.

A record's ``dossier_code`` (issue 14) is stored normalised beside it (the record as sent keeps its
content hash); whether this rating is the one that counts for the dossier is settled by the storage
in the transaction that stores it: the first received without a misuse flag claims the dossier,
any later one is kept and marked ``dossier_repeat`` (docs/dossiers.md).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Callable

from hailong_core.dossier import normalise_dossier_code
from hailong_core.questionnaire import Questionnaire
from hailong_core.response import MISUSE_FLAGS, RecordError, canonical_json, check_boot_stamp, check_record, hash_canonical
from hailong_core.timeutil import format_rfc3339, parse_rfc3339
from sync_server import clock_check
from sync_server.errors import ApiError
from sync_server.storage import Device, PreparedResponse, Storage

BATCH_FIELDS = frozenset(("responses", "device_time", "boot_id", "mono_ms"))


def check_batch_shape(body: Any, max_items: int, fields: frozenset = BATCH_FIELDS) -> tuple[list, str | None]:
    """``(items, device_time)`` from an upload body (a kiosk's, or with ``RELAY_BATCH_FIELDS`` a
    relay's), or :class:`ApiError`."""
    if not isinstance(body, dict):
        raise ApiError("invalid_body", "the body must be a JSON object {\"responses\": [...]}")
    unknown = sorted(set(body) - fields)
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
    try:
        check_boot_stamp(body, integral_floats=True)
    except RecordError as exc:
        raise ApiError("invalid_body", f"{exc.field}: {exc.message}") from None
    return items, device_time


def floor_ms(settings_floor: str) -> int:
    """UTC epoch ms of the ``created_at_floor`` day (its start, UTC)."""
    day = date.fromisoformat(settings_floor)
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def clock_offset(device_time: str | None, received: datetime) -> float | None:
    """Seconds the device's clock is ahead of the server's (None when unknown or unparsable)."""
    if device_time is None:
        return None
    try:
        return (parse_rfc3339(device_time) - received).total_seconds()
    except ValueError:
        return None


def _roster(storage: Storage) -> Callable[[str, str], bool]:
    """``(unit, officer) -> bool`` from the storage, each unit's roster read once per batch."""
    rosters: dict[str, set[str]] = {}
    return lambda unit, officer: officer in rosters.setdefault(unit, storage.officer_ids(unit))


def _rejected(rid: str | None, exc: RecordError) -> dict:
    return {"id": rid, "status": "rejected", "error": {"code": exc.code, "message": exc.message, "field": exc.field}}


def _fill(results: list, positions: list[int], prepared: list[PreparedResponse], stored: list[tuple[str, str | None]]) -> None:
    """Put each stored item's status (``accepted``, ``duplicate``, ``conflict`` with its reason) at its place."""
    for index, p, (status, message) in zip(positions, prepared, stored):
        entry: dict = {"id": p.id, "status": status}
        if status == "conflict":
            entry["error"] = {"code": "response_conflict", "message": message}
        results[index] = entry


def _prepared(record: dict, created_ms: int, placed_ms: int, suspect: bool, site_id: int | None,
              dossiers: dict[str, tuple[str, bool]]) -> PreparedResponse:
    """A checked record, ready to store (and its dossier claim noted in ``dossiers``)."""
    canonical = canonical_json(record)
    qref = record["questionnaire"]
    code = record.get("dossier_code")
    if code is not None and record["id"] not in dossiers:  # the first of a repeated id is the one stored
        # A misuse-flagged rating never claims a dossier: it is left out of every figure, and must not
        # take the place of the citizen's own rating (a burst of presses, a flood from one address).
        dossiers[record["id"]] = (normalise_dossier_code(code), not MISUSE_FLAGS.intersection(record["flags"]))
    return PreparedResponse(record["id"], hash_canonical(canonical), (
        record["unit_code"], record["officer_id"], qref["id"], qref["version"], record["channel"], record["seq"],
        record["created_at"], created_ms, canonical_json(record["answers"]).decode(),
        canonical_json(record["flags"]).decode(), int(suspect), record.get("procedure_group"),
        placed_ms, record.get("boot_id"), record.get("mono_ms"), site_id,
    ), canonical)


def ingest(storage: Storage, device: Device | None, body: Any, *, max_items: int, skew_s: float,
           questionnaires: dict[tuple[str, int], Questionnaire], unit_code: str | None = None,
           now: datetime | None = None, on_roster: Callable[[str, str], bool] | None = None,
           created_floor: str = "2024-01-01", site_id: int | None = None, utc_offset_h: float = 7.0) -> dict:
    """Store what is valid; return ``{"results": [...], "server_time": ...}`` in item order.

    ``device`` decides the unit and the channel (``kiosk``); without one (the phone form),
    ``unit_code`` is the unit and the channel is ``qr``. ``on_roster(unit, officer_id)`` answers
    whether the officer belongs to the unit (default: ask the storage).

    The site each answer was given at (issue 13): the kiosk's own site (from its enrolment), else
    ``site_id`` (the phone form's point), else the first site of the unit version in force on the
    answer's day at the province (``utc_offset_h``), so an answer under a reused code stays with
    the unit that had the code that day.
    """
    received = now or datetime.now(timezone.utc)
    items, device_time = check_batch_shape(body, max_items)
    offset = clock_offset(device_time, received)
    suspect = offset is not None and abs(offset) > skew_s
    owner_unit = device.unit_code if device is not None else unit_code
    channel = "kiosk" if device is not None else "qr"
    received_text = format_rfc3339(received)
    received_ms = int(received.timestamp() * 1000)
    skew_ms = int(skew_s * 1000)
    lowest_ms = floor_ms(created_floor)
    on_roster = on_roster or _roster(storage)
    boot = None
    if device is not None and "boot_id" in body:
        boot = (body["boot_id"], clock_check.anchor(received_ms, int(body["mono_ms"])))
    anchors: dict[str, int] | None = None
    fixed_site = device.site_id if device is not None and device.site_id is not None else site_id
    day_sites: dict[str, int | None] = {}
    offset_ms = int(utc_offset_h * 3_600_000)

    def site_on(placed_ms: int) -> int | None:
        if fixed_site is not None:
            return fixed_site
        day = datetime.fromtimestamp((placed_ms + offset_ms) / 1000, timezone.utc).date().isoformat()
        if day not in day_sites:
            site = storage.first_site(owner_unit, day)
            day_sites[day] = site["id"] if site else None
        return day_sites[day]

    results: list[dict | None] = [None] * len(items)
    prepared: list[PreparedResponse] = []
    positions: list[int] = []
    dossiers: dict[str, tuple[str, bool]] = {}
    for index, item in enumerate(items):
        try:
            record, created = check_record(item, questionnaires)
            if record["unit_code"] != owner_unit:
                raise RecordError("unit_mismatch", f"this device belongs to unit {owner_unit}, not {record['unit_code']}", "unit_code")
            if record["channel"] != channel:
                raise RecordError("channel_mismatch", f"answers sent with this {'device token' if device else 'form'} are "
                                  f"'{channel}' answers, not '{record['channel']}'", "channel")
            officer = record["officer_id"]
            if officer is not None and not on_roster(owner_unit, officer):
                raise RecordError("unknown_officer", f"officer {officer!r} is not on the roster of unit {owner_unit}", "officer_id")
        except RecordError as exc:
            rid = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
            results[index] = _rejected(rid, exc)
            continue
        created_ms = int(created.timestamp() * 1000)
        boot_id, mono = record.get("boot_id"), record.get("mono_ms")
        anchor_ms = None
        if boot_id is not None and device is not None:
            if boot is not None and boot_id == boot[0]:
                anchor_ms = boot[1]
            else:
                if anchors is None:
                    anchors = storage.boot_anchors(device.id)
                anchor_ms = anchors.get(boot_id)
        placed, item_suspect = clock_check.placed_ms(created_ms, boot_id, mono, received_ms, anchor_ms, skew_ms)
        if not item_suspect and (suspect or created_ms < lowest_ms):
            # The batch's clock is off now, or the time is before the product could have made it:
            # counted at receipt (contract 7), unless the boot clock placed it already.
            placed, item_suspect = received_ms, True
        prepared.append(_prepared(record, created_ms, placed, item_suspect, site_on(placed), dossiers))
        positions.append(index)
    if prepared or boot is not None:
        stored = storage.store_batch(device, prepared, received_text, offset, boot=boot, dossiers=dossiers or None)
        _fill(results, positions, prepared, stored)
    return {"results": results, "server_time": received_text}


# --- answers forwarded by a relay (issue 17) ------------------------------------------------------

RELAY_BATCH_FIELDS = frozenset(("responses", "device_time"))
ENVELOPE_FIELDS = frozenset(("record", "device_id", "placed_ms", "clock_suspect", "site_id", "received_at", "conflict"))


def _envelope(item: Any) -> tuple[dict, str | None, int | None, bool, int | None]:
    """``(record, kiosk id at the relay, placed_ms, clock_suspect, site_id)`` of one forwarded item."""
    if not isinstance(item, dict) or "record" not in item:
        raise RecordError("invalid_item", "a forwarded item must be an object {\"record\": {...}, ...}")
    unknown = sorted(set(item) - ENVELOPE_FIELDS)
    if unknown:
        raise RecordError("unknown_field", f"unknown field {unknown[0]!r} in a forwarded item", unknown[0])
    origin = item.get("device_id")
    if origin is not None and (not isinstance(origin, str) or not 0 < len(origin) <= 64):
        raise RecordError("invalid_field", "device_id must be the kiosk's id at the relay, or null", "device_id")
    placed = item.get("placed_ms")
    if placed is not None and (type(placed) is not int or not 0 <= placed < 2**53):
        raise RecordError("invalid_field", "placed_ms must be UTC epoch milliseconds, or null", "placed_ms")
    suspect = item.get("clock_suspect", False)
    if not isinstance(suspect, bool):
        raise RecordError("invalid_field", "clock_suspect must be true or false", "clock_suspect")
    site = item.get("site_id")
    if site is not None and (type(site) is not int or not 0 < site < 2**53):
        raise RecordError("invalid_field", "site_id must be a site's id, or null", "site_id")
    return item["record"], origin, placed, suspect, site


def ingest_relayed(storage: Storage, relay: Device, body: Any, *, max_items: int, skew_s: float,
                   questionnaires: dict[tuple[str, int], Questionnaire], in_scope: Callable[[str], bool],
                   now: datetime | None = None, on_roster: Callable[[str, str], bool] | None = None,
                   created_floor: str = "2024-01-01", utc_offset_h: float = 7.0) -> dict:
    """Store what a relay forwarded; ``{"results": [...], "server_time"}`` in item order, as :func:`ingest`.

    Each item is the record as the relay stored it, with the kiosk it was given on (its id at the
    relay) and where the relay placed it in time. The relay's authority ends at its scope (contract 6
    at every hop): a unit outside ``in_scope`` is ``rejected`` (``unit_out_of_scope``) and the relay
    keeps it aside. Kiosk and phone answers both come this way. The relay's placement stands unless it
    is later than this receipt (its clock ahead) or before the product could have made it: then the
    receipt, flagged, as for a kiosk. The site is the relay's when it is a site of that unit here (a
    relay mirrors the province's sites with their ids), else the unit's site in force that day.
    """
    received = now or datetime.now(timezone.utc)
    items, device_time = check_batch_shape(body, max_items, RELAY_BATCH_FIELDS)
    offset = clock_offset(device_time, received)
    received_text = format_rfc3339(received)
    received_ms = int(received.timestamp() * 1000)
    skew_ms = int(skew_s * 1000)
    lowest_ms = floor_ms(created_floor)
    on_roster = on_roster or _roster(storage)
    offset_ms = int(utc_offset_h * 3_600_000)
    day_sites: dict[tuple[str, str], int | None] = {}

    site_units: dict[int, str | None] = {}

    def site_on(unit: str, placed_ms: int, given: int | None) -> int | None:
        if given is not None:  # the relay's kiosk stood at this site (a relay mirrors the province's sites)
            if given not in site_units:
                site = storage.site(given)
                site_units[given] = site["unit_code"] if site else None
            if site_units[given] == unit:
                return given
        day = datetime.fromtimestamp((placed_ms + offset_ms) / 1000, timezone.utc).date().isoformat()
        if (unit, day) not in day_sites:
            site = storage.first_site(unit, day)
            day_sites[(unit, day)] = site["id"] if site else None
        return day_sites[(unit, day)]

    results: list[dict | None] = [None] * len(items)
    prepared: list[PreparedResponse] = []
    positions: list[int] = []
    dossiers: dict[str, tuple[str, bool]] = {}
    origins: dict[str, str | None] = {}
    for index, item in enumerate(items):
        rid = None
        try:
            record_in, origin, placed_in, suspect_in, site_in = _envelope(item)
            rid = record_in.get("id") if isinstance(record_in, dict) and isinstance(record_in.get("id"), str) else None
            record, created = check_record(record_in, questionnaires)
            unit = record["unit_code"]
            if not in_scope(unit):
                raise RecordError("unit_out_of_scope", f"unit {unit} is outside this relay's scope ({relay.unit_code} and "
                                  "the units under it): kept aside at the relay", "unit_code")
            officer = record["officer_id"]
            if officer is not None and not on_roster(unit, officer):
                raise RecordError("unknown_officer", f"officer {officer!r} is not on the roster of unit {unit}", "officer_id")
        except RecordError as exc:
            results[index] = _rejected(rid, exc)
            continue
        created_ms = int(created.timestamp() * 1000)
        placed, suspect = (created_ms, False) if placed_in is None else (placed_in, suspect_in)
        if placed > received_ms + skew_ms or placed < lowest_ms:
            placed, suspect = received_ms, True
        prepared.append(_prepared(record, created_ms, placed, suspect, site_on(unit, placed, site_in), dossiers))
        positions.append(index)
        origins.setdefault(record["id"], origin)
    if prepared:
        stored = storage.store_batch(relay, prepared, received_text, offset, dossiers=dossiers or None, relayed=origins)
        _fill(results, positions, prepared, stored)
    return {"results": results, "server_time": received_text}
