"""One answer's whole journey: kiosk store → sync client → real server → server database."""

from __future__ import annotations

from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import SyncService, enroll

QREF = {"id": "bg-friendly-gov", "version": 1}


def test_enrol_record_sync_heartbeat_config(server, tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    data = enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")
    assert data["unit_code"] == "7201"
    assert store.get_meta("config")["unit"]["name"] == "Phường Thọ Xương"
    record = store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    report = SyncService(store, kiosk_settings.load(tmp_path)).run_round(force=True)
    assert report["error"] is None and report["sent"] == 1
    assert store.counts() == {"pending": 0, "sent": 1, "kept_aside": 0}
    assert server.stats() == {"7201": 1}
    assert store.get_record(record["id"])["state"] == "sent"


def test_enrolment_tells_the_kiosk_its_name_site_and_counter(server, tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    data = enroll(store, server.url, server.enroll_code("7201"), "Quầy 1 — sảnh chính")
    assert data["name"] == "Quầy 1 — sảnh chính" and isinstance(data["site_id"], int) and data["counter"] is None
    assert store.get_meta("device_name") == "Quầy 1 — sảnh chính"
    store.close()
