"""Results that no single record can break, and records that cannot claim what their sender may not
(issue 11): each test sends what an attacker or a broken device would, through the real app.

Runs on SQLite and again on PostgreSQL (the module name starts with ``test_server_``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hailong_core.ids import uuid7
from sync_server import maintenance, security
from sync_server.days import utc_ms
from sync_server.results import rollups
from tests.records import QREF, make_record
from tests.server_web import add_users, login, make_app

ROOT = Path(__file__).resolve().parent.parent
UPLOAD = "/api/v1/kiosk/responses"


def _enrol(app, storage, unit: str) -> str:
    code = security.new_enroll_code()
    storage.create_enroll_code(unit, security.digest(security.normalise_code(code)), datetime.now(timezone.utc) + timedelta(hours=1))
    resp = TestClient(app).post("/api/v1/enroll", json={"code": code})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


def _upload(app, token: str, records: list, **body) -> list[dict]:
    resp = TestClient(app).post(UPLOAD, json={"responses": records, **body}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["results"]


def _row(storage, rid: str) -> dict:
    row = storage._conn().execute("SELECT clock_suspect, placed_ms, created_ms, received_at, officer_id, channel "
                                  "FROM responses WHERE id = ?", (rid,)).fetchone()
    return dict(zip(("clock_suspect", "placed_ms", "created_ms", "received_at", "officer_id", "channel"), row)) if row else None


@pytest.fixture
def world(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)
    now = datetime.now(timezone.utc)
    storage.add_officer("cb-7201", "7201", "Nguyễn Văn A", None, None, None, now)
    storage.add_officer("cb-7246", "7246", "Trần Thị B", None, None, None, now)
    yield app, storage, tmp_path
    storage.close()


def _cli(storage, *args: str) -> subprocess.CompletedProcess:
    db = storage.url if getattr(storage, "url", None) else str(storage.path)
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", db, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


# --- 1. one record cannot break a report ---------------------------------------------------------------

def test_year_1_and_year_9999_answers_are_kept_and_every_results_path_still_works(world):
    app, storage, _ = world
    token = _enrol(app, storage, "7201")
    far = [make_record(1, created=None, created_at="0001-01-01T00:00:00+14:00"),
           make_record(2, created_at="9999-12-31T23:59:59-12:00"),
           make_record(3, created_at="1969-12-31T23:59:59Z")]
    for r in far:
        r["created_at"] = r["created_at"]
    results = _upload(app, token, far)
    assert [r["status"] for r in results] == ["accepted"] * 3
    for r in far:
        row = _row(storage, r["id"])
        # Stored as sent, flagged, and counted at receipt time (contract 7).
        assert row["clock_suspect"] == 1 and row["placed_ms"] == utc_ms(row["received_at"]), row
    # An old row (before schema step 7 there was no placed_ms) at year 1, and one damaged by hand:
    conn = storage._conn()
    storage._write(lambda c: c.execute(
        "UPDATE responses SET placed_ms = NULL, clock_suspect = 0 WHERE id = ?", (far[0]["id"],)))
    storage._write(lambda c: c.execute("UPDATE responses SET answers = ? WHERE id = ?", ("{not json", far[2]["id"])))
    client, _ = login(app, "province-admin")
    assert client.get("/results").status_code == 200
    assert client.get("/results/units/7201").status_code == 200
    assert client.get("/results/export.xlsx").status_code == 200
    assert client.get("/results/export.csv").status_code == 200
    api_token = security.new_token()
    storage.add_api_token("bi", security.digest(api_token), None, datetime.now(timezone.utc))
    pull = TestClient(app).get("/api/v1/pull/aggregates", headers={"Authorization": f"Bearer {api_token}"})
    assert pull.status_code == 200, pull.text
    # Rebuilt from nothing: the damaged row is skipped and named; the year-1 row counts at receipt.
    storage.reset_rollups(7 * 3_600_000)
    done = _cli(storage, "refresh-results")
    assert done.returncode == 0, done.stderr
    skipped_seq = conn.execute("SELECT server_seq FROM responses WHERE id = ?", (far[2]["id"],)).fetchone()[0]
    assert f"server_seq [{skipped_seq}]" in done.stdout, done.stdout
    today = (datetime.now(timezone.utc) + timedelta(hours=7)).date()
    from sync_server.days import day_number
    n_today = conn.execute("SELECT SUM(n) FROM rollup_day WHERE unit_code = '7201' AND question = '' AND day = ?",
                           (day_number(today),)).fetchone()[0]
    assert n_today == 2  # year 1 and year 9999, both placed at receipt; the damaged one skipped


def test_a_time_before_the_floor_is_flagged_and_placed_at_receipt(world):
    app, storage, _ = world
    token = _enrol(app, storage, "7201")
    old = make_record(1, created=datetime(2019, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=7))))
    ok = make_record(2)
    assert [r["status"] for r in _upload(app, token, [old, ok])] == ["accepted", "accepted"]
    assert _row(storage, old["id"])["clock_suspect"] == 1
    assert _row(storage, old["id"])["placed_ms"] == utc_ms(_row(storage, old["id"])["received_at"])
    good = _row(storage, ok["id"])
    assert good["clock_suspect"] == 0 and good["placed_ms"] == good["created_ms"]


# --- 10. a strict protocol ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["20261128T081502+0700", "2026-11-28T08:15:02+23:59", "2026-11-28T08:15:02+07:00:30",
                                  "2026-11-28 08:15:02+07:00", "2026-11-28T08:15:02", "2026-11-28T08:15:02-13:00",
                                  "٢٠٢٦-11-28T08:15:02Z", "2026-11-28T08:15:02.1234567890Z"])
def test_created_at_that_is_not_rfc_3339_is_rejected(world, text):
    app, storage, _ = world
    token = _enrol(app, storage, "7201")
    [result] = _upload(app, token, [make_record(1, created_at=text)])
    assert result["status"] == "rejected" and result["error"]["field"] == "created_at", result


def test_no_answers_and_a_kiosk_token_posing_as_the_phone_channel_are_rejected(world):
    app, storage, _ = world
    token = _enrol(app, storage, "7201")
    empty, qr, fine = make_record(1, answers={}), make_record(2, channel="qr"), make_record(3)
    results = _upload(app, token, [empty, qr, fine])
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted"]
    assert results[0]["error"]["field"] == "answers"
    assert results[1]["error"]["code"] == "channel_mismatch"
    assert storage.response_count() == 1


# --- 4. a device names only officers of its own unit --------------------------------------------------

def test_a_device_cannot_rate_another_units_officer(world):
    app, storage, _ = world
    token = _enrol(app, storage, "7246")
    foreign = [make_record(i + 1, "7246", answers={"overall": 1}, officer_id="cb-7201") for i in range(30)]
    made_up = [make_record(40, "7246", officer_id='=HYPERLINK("http://x.example/","bấm")'), make_record(41, "7246", officer_id="cb-nobody")]
    own = make_record(50, "7246", officer_id="cb-7246")
    results = _upload(app, token, foreign + made_up + [own])
    assert {r["status"] for r in results[:32]} == {"rejected"}
    assert {r["error"]["code"] for r in results[:32]} == {"unknown_officer"}
    assert results[-1]["status"] == "accepted"
    rows = storage._conn().execute("SELECT officer_id, COUNT(*) FROM responses GROUP BY officer_id").fetchall()
    assert [tuple(r) for r in rows] == [("cb-7246", 1)]
    # An officer added a moment ago (by another process: straight into the storage) is known at once.
    storage.add_officer("cb-new", "7246", "Lê Văn C", None, None, None, datetime.now(timezone.utc))
    [later] = _upload(app, token, [make_record(60, "7246", officer_id="cb-new")])
    assert later["status"] == "accepted"


# --- 13. page views stay fast after a bulk upload; 14. duties have a home ------------------------------

def test_a_page_view_counts_a_bounded_chunk_and_says_how_many_wait(tmp_path):
    app, storage = make_app(tmp_path, results_page_fold_rows=100)
    add_users(storage)
    token = _enrol(app, storage, "7201")
    for start in range(0, 1000, 250):
        _upload(app, token, [make_record(start + i + 1) for i in range(250)])
    client, _ = login(app, "province-admin")  # lands on "/", the leader's first screen: a results view too
    landed = storage.rollup_state()[0]
    assert 0 < landed <= 100
    page = client.get("/results")
    assert page.status_code == 200
    state = storage.rollup_state()
    # At most 100 more folded by this view, whatever reports it builds (the headline's earlier window too).
    assert landed < state[0] <= landed + 100 <= storage.top_seq() - 800
    assert "chưa được tính" in page.text  # "not yet counted": the page says the figures lag
    done = maintenance.run(storage, app.state.hailong.settings)
    assert done["rollups"]["behind"] == 0 and done["rollups"]["folded"] == 1000 - state[0]
    page = client.get("/results")
    assert "chưa được tính" not in page.text
    storage.close()


def test_maintain_purges_call_back_numbers_on_its_own_schedule(world):
    app, storage, _ = world
    settings = app.state.hailong.settings
    now_ms = int(time.time() * 1000)
    storage.add_phone_contact(uuid7(), "7201", "0912345678", now_ms - int((settings.contact_retention_days + 1) * 86_400_000))
    storage.add_phone_contact(uuid7(), "7201", "0987654321", now_ms)
    schedule = maintenance.Schedule(storage, settings, 0.2)
    schedule.start()
    try:
        deadline = time.monotonic() + 20
        while len(storage.phone_contacts()) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        schedule.stop()
    assert [c["phone"] for c in storage.phone_contacts()] == ["0987654321"]
    record = {d["name"]: d for d in storage.duties()}
    assert record["purge"]["last_done_at"] and record["purge"]["last_error"] is None
    assert json.loads(record["purge"]["detail"])  # what it deleted, for the operator


def test_maintain_command_runs_every_duty_and_a_second_schedule_does_not_repeat_it(world):
    app, storage, _ = world
    token = _enrol(app, storage, "7201")
    _upload(app, token, [make_record(i + 1) for i in range(20)])
    done = _cli(storage, "maintain", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["rollups"]["folded"] == 20 and "purge" in out
    # Another process's schedule within the interval finds both duties claimed and runs neither.
    assert maintenance.run(storage, app.state.hailong.settings, every_s=3600) == {}


# --- 9. a clock that jumped is caught after the fact --------------------------------------------------

def test_a_heartbeat_anchors_the_boot_so_a_later_upload_of_that_boot_is_placed_by_its_monotonic_clock(world):
    app, storage, _ = world
    token = _enrol(app, storage, "7201")
    boot = "3f2b8c1e-9a4d-4e0f-8b7a-1c2d3e4f5a6b"
    beat = TestClient(app).post("/api/v1/kiosk/heartbeat", headers={"Authorization": f"Bearer {token}"},
                                json={"pending": 1, "app_version": "test", "device_time": datetime.now().astimezone().isoformat(),
                                      "boot_id": boot, "mono_ms": 5_000_000})
    assert beat.status_code == 204, beat.text
    # After a reboot (another boot sends the batch), an answer of the old boot arrives: recorded at
    # mono 4,940,000 (a minute before the heartbeat) by a wall clock two years behind.
    true_ms = int(time.time() * 1000) - 60_000
    wrong = datetime.fromtimestamp(true_ms / 1000, timezone(timedelta(hours=7))) - timedelta(days=730)
    record = make_record(1, created=wrong, boot_id=boot, mono_ms=4_940_000)
    [result] = _upload(app, token, [record], boot_id="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", mono_ms=10_000)
    assert result["status"] == "accepted"
    row = _row(storage, record["id"])
    assert row["clock_suspect"] == 1 and abs(row["placed_ms"] - true_ms) < 60_000, (row, true_ms)


def test_a_running_server_does_its_duties_on_its_own(tmp_path):
    """``serve`` runs the duties every ``maintain_every_s``: a number past its retention goes and new
    answers are counted, with no page view, no CLI and no timer."""
    from sync_server.storage import open_storage
    from tests.records import enroll_http, upload
    from tests.support import LiveServer, free_port, server_db_location

    db = server_db_location(tmp_path)
    live = LiveServer(db, free_port(), env={"HAILONG_SERVER_MAINTAIN_EVERY_S": "5"})
    live.start()
    storage = open_storage(db)
    try:
        device = enroll_http(live, "7201")
        assert upload(live, device["token"], [make_record(i + 1) for i in range(7)]).status_code == 200
        old_ms = int(time.time() * 1000) - 31 * 86_400_000  # past the 30-day retention, added after start-up
        storage.add_phone_contact(uuid7(), "7201", "0912345678", old_ms)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (storage.phone_contacts() or (storage.rollup_state() or (0,))[0] < storage.top_seq()):
            time.sleep(0.2)
        assert storage.phone_contacts() == []
        assert storage.rollup_state()[0] == storage.top_seq()
    finally:
        storage.close()
        live.stop()


def test_exports_count_every_answer_even_when_pages_lag(tmp_path):
    app, storage = make_app(tmp_path, results_page_fold_rows=10)
    add_users(storage)
    token = _enrol(app, storage, "7201")
    _upload(app, token, [make_record(i + 1) for i in range(60)])
    client, _ = login(app, "province-admin")
    assert "chưa được tính" in client.get("/results/recognition").text  # the decision page says it lags
    csv_text = client.get("/results/export.csv?unit=7201").text
    assert storage.rollup_state()[0] == storage.top_seq()  # the export counted everything first
    assert "60" in csv_text
    storage.close()
