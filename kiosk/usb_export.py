"""Unsent answers to a file (a USB stick), for points with no network at all. No Qt.

The file is gzip JSON: ``{"format": "hailong-usb-export", "version": 1, "device_id", "unit_code",
"exported_at", "responses": [protocol records]}``. Exporting marks nothing sent: only the server's
acknowledgement does (contract 3), so answers later also synced over the network arrive as
harmless duplicates. ``hailong-server import-responses FILE`` reads it through the same ingest.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from hailong_core.timeutil import format_rfc3339, now_local
from kiosk.store import Store

FORMAT = "hailong-usb-export"


def export_pending(store: Store, path: Path) -> int:
    """Write every pending answer to ``path`` (atomically: a pulled stick leaves no half file)."""
    records = store.pending(1_000_000_000)
    doc = {"format": FORMAT, "version": 1, "device_id": store.get_meta("device_id"),
           "unit_code": store.get_meta("unit_code"), "exported_at": format_rfc3339(now_local()), "responses": records}
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(gzip.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(records)
