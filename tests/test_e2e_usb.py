"""A point with no network: the kiosk exports unsent answers to a file; the server imports it, idempotently."""

from __future__ import annotations

import json
import subprocess
import sys

from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import SyncService, enroll
from tests.support import ROOT, server_cli

QREF = {"id": "bg-friendly-gov", "version": 1}


def _kiosk(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path / "kiosk"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_usb_export_imported_twice_adds_each_answer_once(server, tmp_path):
    store = Store(tmp_path / "kiosk" / "kiosk.sqlite3")
    enroll(store, server.url, server.enroll_code("7201"))
    ids = {store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 1 + i % 5})["id"] for i in range(120)}
    store.close()
    stick = tmp_path / "usb" / "kiosk-7201.json.gz"
    stick.parent.mkdir()
    out = _kiosk(tmp_path, "export-pending", "--out", str(stick))
    assert out.returncode == 0 and "120 answers" in out.stdout, out.stderr

    first = server_cli(server.db, "import-responses", str(stick)).stdout
    assert "accepted=120 duplicate=0 conflict=0 rejected=0" in first
    again = server_cli(server.db, "import-responses", str(stick)).stdout
    assert "accepted=0 duplicate=120" in again
    assert server.stats() == {"7201": 120}

    # The export marked nothing sent; when the network comes back the kiosk's resend is harmless.
    store = Store(tmp_path / "kiosk" / "kiosk.sqlite3")
    assert store.counts()["pending"] == 120
    report = SyncService(store, kiosk_settings.load(tmp_path)).run_round(force=True)
    assert report["error"] is None and store.counts()["pending"] == 0
    assert server.stats() == {"7201": 120}
    assert json.loads(_kiosk(tmp_path, "status", "--json").stdout)["sent"] == 120
    assert len(ids) == 120


def test_import_refuses_unknown_device_and_garbage(server, tmp_path):
    bad = tmp_path / "garbage.json.gz"
    bad.write_bytes(b"not gzip at all")
    proc = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(server.db), "import-responses", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a kiosk export" in proc.stderr

    store = Store(tmp_path / "k2" / "kiosk.sqlite3")
    store.set_meta(device_id="00000000-0000-4000-8000-000000000000", unit_code="7201")
    store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    from kiosk.usb_export import export_pending

    export_pending(store, tmp_path / "stranger.json.gz")
    proc = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(server.db), "import-responses",
                           str(tmp_path / "stranger.json.gz")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not enrolled" in proc.stderr
    assert server.stats() == {}
