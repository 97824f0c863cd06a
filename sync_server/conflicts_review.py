"""Reviewing conflicts: an answer id that arrived again with other content (contract 4).

The stored row stays as it was (it is what the results count); the new content was filed in
``response_conflicts``. This module is the one use case behind the admin page
(``/admin/conflicts``), the CLI (``hailong-server conflicts``) and the tests: list the conflicts with
the stored record rebuilt beside the new one and the differing fields named, and mark one reviewed
(with an audit entry). Nothing here deletes or replaces an answer: a reviewer who decides the new
content is the right one has no button for that, on purpose (see docs/server-admin.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from hailong_core.timeutil import format_rfc3339
from sync_server.storage import Storage, User

PER_PAGE = 20
MAX_PAGE = 10_000
NOTE_MAX = 1000
# The record's fields in protocol order; fields a record carries beyond these come after.
RECORD_ORDER = ("id", "seq", "unit_code", "officer_id", "questionnaire", "channel", "created_at", "answers", "flags",
                "procedure_group", "boot_id", "mono_ms")
NESTED = ("questionnaire", "answers")  # compared key by key, so one changed answer is named alone


class ReviewRefused(ValueError):
    """The conflict is unknown or already reviewed (``code`` says which)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Field:
    name: str
    stored: str | None  # the value as compact JSON text (a string as itself); None = the field is absent
    new: str | None

    @property
    def differs(self) -> bool:
        return self.stored != self.new


def stored_record(row: dict) -> dict | None:
    """The stored response rebuilt as a protocol record (None when the stored row is gone)."""
    if row.get("stored_server_seq") is None:
        return None
    record = {"id": row["response_id"], "seq": row["stored_seq"], "unit_code": row["stored_unit_code"],
              "officer_id": row["stored_officer_id"],
              "questionnaire": {"id": row["stored_questionnaire_id"], "version": row["stored_questionnaire_version"]},
              "channel": row["stored_channel"], "created_at": row["stored_created_at"],
              "answers": _json(row["stored_answers"]), "flags": _json(row["stored_flags"]),
              "procedure_group": row["stored_procedure_group"]}
    if row.get("stored_boot_id") is not None or row.get("stored_mono_ms") is not None:
        record["boot_id"], record["mono_ms"] = row.get("stored_boot_id"), row.get("stored_mono_ms")
    return record


def _json(text):
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text  # shown as it is; a review page must not fail on one odd row


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _flatten(record: dict | None) -> dict[str, str]:
    """Field → text; a null field counts as absent (the record leaves optional fields out when empty)."""
    out: dict[str, str] = {}
    if not isinstance(record, dict):
        return out
    for key, value in record.items():
        if value is None:
            continue
        if key in NESTED and isinstance(value, dict):
            for sub, v in value.items():
                if v is not None:
                    out[f"{key}.{sub}"] = _text(v)
        else:
            out[key] = _text(value)
    return out


def _rank(name: str) -> tuple:
    head = name.split(".", 1)[0]
    return (RECORD_ORDER.index(head) if head in RECORD_ORDER else len(RECORD_ORDER), name)


def compare(stored: dict | None, new) -> list[Field]:
    """Every field of either record, in protocol order (nested answers key by key)."""
    a = _flatten(stored)
    b = _flatten(new) if isinstance(new, dict) else {"(record)": _text(new)}
    return [Field(name, a.get(name), b.get(name)) for name in sorted(set(a) | set(b), key=_rank)]


def describe(row: dict) -> dict:
    """One conflict for a page or JSON: the rows' facts, both records and the field comparison."""
    stored = stored_record(row)
    new = _json(row["record"])
    # The dossier code never shows beside officer and answers (docs/dossiers.md): the reviewer sees
    # that the new record carried one, not which, and the comparison leaves it out.
    hidden = isinstance(new, dict) and "dossier_code" in new
    if hidden:
        new = {k: v for k, v in new.items() if k != "dossier_code"}
    fields = compare(stored, new)
    return {"id": row["id"], "response_id": row["response_id"],
            "unit_code": row.get("stored_unit_code") or row.get("device_unit_code"),
            "device_id": row["device_id"], "device_name": row.get("device_name"), "received_at": row["received_at"],
            "stored_received_at": row.get("stored_received_at"), "reviewed_at": row["reviewed_at"],
            "reviewed_by": row["reviewed_by"], "review_note": row["review_note"], "stored": stored, "new": new,
            "fields": [{"field": f.name, "stored": f.stored, "new": f.new, "differs": f.differs} for f in fields],
            "differing": [f.name for f in fields if f.differs], "dossier_code_hidden": hidden}


def list_conflicts(storage: Storage, *, include_reviewed: bool = False, page: int = 0, per_page: int = PER_PAGE) -> dict:
    """A page of conflicts, newest first: ``{"items", "total", "page", "per_page"}``."""
    page = max(0, min(int(page), MAX_PAGE))
    reviewed = None if include_reviewed else False
    rows = storage.conflict_rows(reviewed, limit=per_page, offset=page * per_page)
    return {"items": [describe(r) for r in rows], "total": storage.conflict_count(reviewed), "page": page, "per_page": per_page}


def review(storage: Storage, conflict_id: int, *, by: str, note: str | None = None, user: User | None = None,
           ip: str | None = None, now: datetime | None = None) -> dict:
    """Mark a conflict reviewed (the first review stands) and audit it; returns the conflict as :func:`describe`."""
    now = now or datetime.now(timezone.utc)
    note = (note or "").strip()[:NOTE_MAX] or None
    row = storage.conflict_row(conflict_id)
    if row is None:
        raise ReviewRefused("unknown", f"no conflict {conflict_id}")
    if row["reviewed_at"] is not None or not storage.review_conflict(conflict_id, format_rfc3339(now), by, note):
        raise ReviewRefused("already_reviewed", f"conflict {conflict_id} was already reviewed")
    storage.audit(now, user, "conflict.review", str(conflict_id), {"response_id": row["response_id"], "note": note,
                                                                  **({} if user else {"via": "cli", "by": by})}, ip)
    return describe(storage.conflict_row(conflict_id))
