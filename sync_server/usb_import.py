"""Import a kiosk's USB export (``hailong-kiosk export-pending``) through the one ingest path.

The device named in the file must be enrolled here; its unit, not the file's, decides where the
answers belong (contract 6). Idempotent like every hop: importing a file twice adds nothing.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

from hailong_core.questionnaire import parse_questionnaire
from sync_server.ingest import ingest
from sync_server.storage import Device, Storage

FORMAT = "hailong-usb-export"


class UsbImportError(ValueError):
    """The file is not a usable kiosk export (the message says why)."""


def read_export(path: Path) -> dict:
    try:
        doc = json.loads(gzip.decompress(Path(path).read_bytes()))
    except (OSError, EOFError, ValueError) as exc:
        raise UsbImportError(f"{path}: not a kiosk export ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
        raise UsbImportError(f"{path}: not a version-1 {FORMAT} file")
    if not isinstance(doc.get("responses"), list):
        raise UsbImportError(f"{path}: no responses list")
    return doc


def import_export(storage: Storage, path: Path, *, batch: int, skew_s: float, created_floor: str = "2024-01-01") -> Counter:
    """Ingest the file's answers in batches; return the count of each per-item status."""
    doc = read_export(path)
    row = storage.device(doc.get("device_id") or "")
    if row is None:
        raise UsbImportError(f"device {doc.get('device_id')!r} is not enrolled on this server")
    device = Device(row["id"], row["unit_code"], row.get("name"), False, row.get("site_id"), row.get("counter"))
    questionnaires = {key: parse_questionnaire(q) for key, q in storage.questionnaires().items()}
    counts: Counter = Counter()
    items = doc["responses"]
    for start in range(0, len(items), batch):
        answer = ingest(storage, device, {"responses": items[start:start + batch]}, max_items=batch,
                        skew_s=skew_s, questionnaires=questionnaires, created_floor=created_floor)
        counts.update(r["status"] for r in answer["results"])
    return counts
