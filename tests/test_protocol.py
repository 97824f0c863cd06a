"""Protocol v1 over real HTTP against a real ``hailong-server serve`` process.

Idempotency (replays, shuffles, conflicts), per-item rejection, authentication, bad input (each in
the one error shape and storing nothing), config ETags, heartbeats and clock flags. The servers
here are shared by the module (starting one costs ~1 s); each test counts what *it* changed.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
import zlib
from datetime import timedelta

import psutil
import pytest
import requests

from hailong_core.timeutil import now_local
from kiosk.store import Store
from kiosk.sync import ServerApi, SyncClient, enroll
from tests.records import (QREF, UPLOAD, assert_error, bearer, device_time, enroll_http, make_record, server_db,
                           server_rows, upload)
from tests.support import server_db_location, LiveServer, free_port, make_enroll_code, server_cli


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    srv = LiveServer(server_db_location(tmp_path_factory.mktemp("protocol")), free_port())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A server with tight limits, set the way an operator would: environment variables."""
    srv = LiveServer(server_db_location(tmp_path_factory.mktemp("small")), free_port(),
                     env={"HAILONG_SERVER_MAX_BODY_BYTES": "2048", "HAILONG_SERVER_MAX_BATCH_ITEMS": "10"})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def device(live):
    return enroll_http(live, "7201", "Quầy 1")


def _stored(live, rid: str) -> dict | None:
    conn = server_db(live)
    try:
        row = conn.execute("SELECT * FROM responses WHERE id = ?", (rid,)).fetchone()
        return dict(row) if row else None
    finally:
        conn.close()


# --- idempotency -----------------------------------------------------------------------------------

def test_replayed_and_shuffled_batch_is_stored_once(live, device):
    records = [make_record(i + 1, answers={"overall": 1 + i % 5}) for i in range(100)]
    before = server_rows(live)
    statuses = []
    for attempt in range(4):
        batch = list(records)
        if attempt == 3:
            random.Random(7).shuffle(batch)
        resp = upload(live, device["token"], batch, gz=attempt % 2 == 1)
        assert resp.status_code == 200, resp.text
        results = resp.json()["results"]
        assert [r["id"] for r in results] == [r["id"] for r in batch]  # one result per item, in order
        statuses.append({r["status"] for r in results})
    assert statuses == [{"accepted"}, {"duplicate"}, {"duplicate"}, {"duplicate"}]
    assert server_rows(live) - before == 100
    conn = server_db(live)
    try:
        marks = ",".join("?" * 100)
        counted = conn.execute(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM responses WHERE id IN ({marks})",
                               [r["id"] for r in records]).fetchone()
    finally:
        conn.close()
    assert tuple(counted) == (100, 100)


def test_same_id_other_content_is_a_conflict_and_kept_aside(live, device):
    original = make_record(1, answers={"overall": 5, "skills": 4})
    assert upload(live, device["token"], [original]).json()["results"][0]["status"] == "accepted"
    stored_before = _stored(live, original["id"])
    before = server_rows(live)

    changed = {**original, "answers": {"overall": 1, "why": ["impolite"]}}
    result = upload(live, device["token"], [changed]).json()["results"][0]
    assert result["id"] == original["id"]
    assert result["status"] == "conflict"
    assert result["error"]["code"] == "response_conflict" and result["error"]["message"]

    assert server_rows(live) == before
    assert _stored(live, original["id"]) == stored_before  # the original row is unchanged
    assert json.loads(stored_before["answers"]) == {"overall": 5, "skills": 4}
    conn = server_db(live)
    try:
        rows = conn.execute("SELECT record, device_id FROM response_conflicts WHERE response_id = ?", (original["id"],)).fetchall()
    finally:
        conn.close()
    assert len(rows) == 1
    assert json.loads(rows[0]["record"])["answers"] == {"overall": 1, "why": ["impolite"]}
    assert rows[0]["device_id"] == device["device_id"]
    # The original content sent again is still a harmless duplicate.
    assert upload(live, device["token"], [original]).json()["results"][0]["status"] == "duplicate"


@pytest.mark.parametrize("bad_answers, code", [({"overall": 4, "nope": 1}, "unknown_question"),
                                               ({"overall": 9}, "invalid_answer")])
def test_one_bad_item_among_good_ones(live, device, bad_answers, code):
    records = [make_record(i + 1) for i in range(100)]
    records[37] = make_record(38, answers=bad_answers)
    before = server_rows(live)
    results = upload(live, device["token"], records).json()["results"]
    assert [r["status"] for r in results].count("accepted") == 99
    bad = results[37]
    assert bad["id"] == records[37]["id"]
    assert bad["status"] == "rejected"
    assert bad["error"]["code"] == code
    assert bad["error"]["field"].startswith("answers.")
    assert server_rows(live) - before == 99
    assert _stored(live, records[37]["id"]) is None


def test_bad_item_through_the_kiosk_is_kept_aside_and_not_resent(live, tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, live.url, make_enroll_code(live.db, "7201"))
    bad_id = None
    for i in range(100):
        answers = {"overall": 9} if i == 50 else {"overall": 1 + i % 5}
        rec = store.record_response(unit_code="7201", questionnaire=QREF, answers=answers)
        if i == 50:
            bad_id = rec["id"]

    uploads = []

    class Counting(requests.Session):
        def request(self, method, url, *args, **kwargs):
            if url.endswith(UPLOAD):
                uploads.append(url)
            return super().request(method, url, *args, **kwargs)

    client = SyncClient(store, ServerApi(live.url, store.get_meta("token"), session=Counting()), batch_size=200)
    pushed = client.drain()
    assert (pushed.sent, pushed.kept_aside) == (99, 1)
    assert store.counts() == {"pending": 0, "sent": 99, "kept_aside": 1}
    aside = store.kept_aside()
    assert [a["id"] for a in aside] == [bad_id]
    assert "invalid_answer" in aside[0]["reason"] and aside[0]["reason"].startswith("rejected")
    assert len(uploads) == 1

    again = client.drain()
    assert again.batches == 0 and len(uploads) == 1  # the bad one is not sent again
    assert store.get_record(bad_id)["state"] == "kept_aside"


def test_item_with_unknown_field_is_rejected(live, device):
    good, odd = make_record(1), make_record(2, mood="happy")
    results = upload(live, device["token"], [good, odd]).json()["results"]
    assert results[0]["status"] == "accepted"
    assert results[1]["status"] == "rejected"
    assert results[1]["error"]["code"] == "unknown_field" and results[1]["error"]["field"] == "mood"


def test_procedure_group_is_stored_and_old_records_keep_their_hash(live, device):
    """``procedure_group`` is optional: stored when sent, shape-checked, and a record made before the
    field existed (no key at all) still reads as a duplicate when resent, not a conflict."""
    named, old_style, unknown_code = make_record(1, procedure_group="ho_tich"), make_record(2), make_record(3, procedure_group="thue_phi")
    bad = make_record(4, procedure_group="Hộ tịch")
    nulled = make_record(5, procedure_group=None)
    results = upload(live, device["token"], [named, old_style, unknown_code, bad, nulled]).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "accepted", "rejected", "accepted"]
    assert results[3]["error"]["code"] == "invalid_field" and results[3]["error"]["field"] == "procedure_group"
    # A code the catalogue does not (yet) hold is kept as sent: an older kiosk's answers are never refused for it.
    assert [(_stored(live, r["id"]) or {}).get("procedure_group") for r in (named, old_style, unknown_code, nulled)] == [
        "ho_tich", None, "thue_phi", None]
    again = upload(live, device["token"], [named, old_style, nulled]).json()["results"]
    assert [r["status"] for r in again] == ["duplicate"] * 3
    changed = dict(named, procedure_group="dat_dai")
    assert upload(live, device["token"], [changed]).json()["results"][0]["status"] == "conflict"


def test_item_cannot_claim_another_unit(live, device):
    before = server_rows(live)
    rec = make_record(1, unit_code="7202")
    result = upload(live, device["token"], [rec]).json()["results"][0]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "unit_mismatch"
    assert server_rows(live) == before


# --- authentication --------------------------------------------------------------------------------

def test_no_token_and_unknown_token(live):
    before = server_rows(live)
    body = {"responses": [make_record(1)]}
    assert_error(requests.post(live.url + UPLOAD, json=body, timeout=10), 401, "missing_token")
    assert_error(requests.post(live.url + UPLOAD, json=body, headers={"Authorization": "Basic abc"}, timeout=10), 401, "missing_token")
    assert_error(requests.post(live.url + UPLOAD, json=body, headers=bearer("hl1_nobody"), timeout=10), 401, "invalid_token")
    assert_error(requests.get(live.url + "/api/v1/kiosk/config", timeout=10), 401, "missing_token")
    assert server_rows(live) == before


def test_revoked_device_is_refused(live):
    dev = enroll_http(live, "7201")
    assert upload(live, dev["token"], [make_record(1)]).status_code == 200
    out = server_cli(live.db, "revoke-device", "--device", dev["device_id"])
    assert dev["device_id"] in out.stdout
    before = server_rows(live)
    assert_error(upload(live, dev["token"], [make_record(2)]), 403, "device_revoked")
    assert_error(requests.get(live.url + "/api/v1/kiosk/config", headers=bearer(dev["token"]), timeout=10), 403, "device_revoked")
    assert server_rows(live) == before


def test_enrolment_code_single_use_and_expiry(live):
    code = make_enroll_code(live.db, "7201")
    first = requests.post(live.url + "/api/v1/enroll", json={"code": code}, timeout=10)
    assert first.status_code == 201 and first.json()["unit_code"] == "7201"
    # Lower case with spaces is the same code (read aloud, typed by hand), and it is now used.
    typed = code.lower().replace("-", " ")
    assert_error(requests.post(live.url + "/api/v1/enroll", json={"code": typed}, timeout=10), 403, "enroll_code_invalid")
    assert_error(requests.post(live.url + "/api/v1/enroll", json={"code": "AAAA-BBBB-CCCC"}, timeout=10), 403, "enroll_code_invalid")

    ttl_s = 0.00001 * 3600  # 36 ms
    short = make_enroll_code(live.db, "7201", "--ttl-hours", "0.00001")
    issued_by = time.time()  # the code was made before the CLI returned, so it expires before issued_by + ttl
    while time.time() <= issued_by + ttl_s:  # wait for a known deadline, not a guess
        time.sleep(0.005)
    body = assert_error(requests.post(live.url + "/api/v1/enroll", json={"code": short}, timeout=10), 403, "enroll_code_invalid")
    assert "expired" in body["error"]["message"]


# --- bad input: status, shape, nothing stored ------------------------------------------------------

def _post_raw(srv, token, data, **headers):
    h = {**bearer(token), "Content-Type": "application/json", **headers}
    return requests.post(srv.url + UPLOAD, data=data, headers=h, timeout=30)


@pytest.mark.parametrize("data, headers, status, code", [
    (b"{not json", {}, 400, "invalid_json"),
    (b"", {}, 400, "invalid_json"),
    (gzip.compress(b"{not json"), {"Content-Encoding": "gzip"}, 400, "invalid_json"),
    (b"this is not gzip", {"Content-Encoding": "gzip"}, 400, "invalid_gzip"),
    (gzip.compress(b'{"responses": []}')[:-12], {"Content-Encoding": "gzip"}, 400, "invalid_gzip"),
    (gzip.compress(b'{"responses": []}') + gzip.compress(b" "), {"Content-Encoding": "gzip"}, 400, "invalid_gzip"),
    (b'{"responses": "x"}', {}, 422, "invalid_body"),
    (b'[1, 2]', {}, 422, "invalid_body"),
    (b'{"responses": [], "device_time": 5}', {}, 422, "invalid_body"),
    (b'{"responses": [], "unit_code": "7202"}', {}, 422, "unknown_field"),
    (b'{"responses": []}', {"Content-Encoding": "br"}, 415, "unsupported_media_type"),
    (b'{"responses": []}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
], ids=["not-json", "empty", "gzip-not-json", "not-gzip", "truncated-gzip", "two-gzip-members", "responses-str", "list-body",
        "device-time-int", "top-unknown-field", "brotli", "text-plain"])
def test_bad_upload_bodies(live, device, data, headers, status, code):
    before = server_rows(live)
    assert_error(_post_raw(live, device["token"], data, **headers), status, code)
    assert server_rows(live) == before


def test_body_over_the_limit(small):
    dev = enroll_http(small, "7201")
    before = server_rows(small)
    records = [make_record(i + 1) for i in range(9)]  # under the item cap, over 2,048 bytes as plain JSON
    raw = json.dumps({"responses": records}).encode()
    assert len(raw) > 2048
    assert_error(_post_raw(small, dev["token"], raw), 413, "body_too_large")
    # Without Content-Length (chunked), the cap holds while streaming.
    assert_error(_post_raw(small, dev["token"], iter([raw[:1000], raw[1000:]])), 413, "body_too_large")
    # The same batch gzipped fits, and is stored.
    ok = _post_raw(small, dev["token"], gzip.compress(raw), **{"Content-Encoding": "gzip"})
    assert ok.status_code == 200 and {r["status"] for r in ok.json()["results"]} == {"accepted"}
    assert server_rows(small) - before == 9


def test_batch_over_the_item_cap(small):
    dev = enroll_http(small, "7201")
    before = server_rows(small)
    raw = gzip.compress(json.dumps({"responses": [make_record(i + 1) for i in range(11)]}).encode())
    assert len(raw) < 2048
    assert_error(_post_raw(small, dev["token"], raw, **{"Content-Encoding": "gzip"}), 413, "batch_too_large")
    assert server_rows(small) == before


def _gzip_of_zeros(total: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    parts = [comp.compress(chunk) for _ in range(total // len(chunk))]
    parts.append(comp.flush())
    return b"".join(parts)


def test_gzip_bomb_is_refused_quickly_with_bounded_memory(live, device):
    bomb = _gzip_of_zeros(200 * 1024 * 1024)
    assert len(bomb) < 400 * 1024
    proc = psutil.Process(live.proc.pid)
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                peak.append(proc.memory_info().rss)
            except psutil.Error:
                return
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = server_rows(live)
    started = time.monotonic()
    try:
        resp = _post_raw(live, device["token"], bomb, **{"Content-Encoding": "gzip"})
    finally:
        stop.set()
        sampler.join(5)
    elapsed = time.monotonic() - started
    assert_error(resp, 413, "body_too_large")
    assert elapsed < 5.0
    print(f"server RSS: before {peak[0] / 2**20:.0f} MiB, peak {max(peak) / 2**20:.0f} MiB, {len(peak)} samples")
    assert max(peak) < 150 * 1024 * 1024, f"server RSS peaked at {max(peak) / 2**20:.0f} MiB"
    assert server_rows(live) == before
    assert live.proc.poll() is None


def test_not_found_and_method_not_allowed(live, device):
    assert_error(requests.get(live.url + "/api/v1/nothing-here", timeout=10), 404, "not_found")
    assert_error(requests.get(live.url + UPLOAD, headers=bearer(device["token"]), timeout=10), 405, "method_not_allowed")


def test_small_bodies_are_strict(live, device):
    assert_error(requests.post(live.url + "/api/v1/enroll", json={"code": "X", "unit": "7201"}, timeout=10), 422, "unknown_field")
    assert_error(requests.post(live.url + "/api/v1/enroll", data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10),
                 400, "invalid_json")
    assert_error(requests.post(live.url + "/api/v1/kiosk/heartbeat", json={"pending": "many"}, headers=bearer(device["token"]), timeout=10),
                 422, "invalid_body")


# --- config, heartbeat, clock -----------------------------------------------------------------------

def test_config_etag_round_trip(live, device):
    url = live.url + "/api/v1/kiosk/config"
    first = requests.get(url, headers=bearer(device["token"]), timeout=10)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    config = first.json()
    assert config["unit"]["code"] == "7201" and config["questionnaire"]["id"] == QREF["id"]
    again = requests.get(url, headers={**bearer(device["token"]), "If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.content == b""
    other = requests.get(url, headers={**bearer(device["token"]), "If-None-Match": '"stale"'}, timeout=10)
    assert other.status_code == 200 and other.headers["ETag"] == etag


def test_heartbeat_shows_on_the_device_list(live):
    dev = enroll_http(live, "7201", "Quầy 3")
    payload = {"pending": 17, "kept_aside": 2, "last_sync_at": None, "last_error": "network: timeout",
               "app_version": "9.8.7", "device_time": device_time()}
    resp = requests.post(live.url + "/api/v1/kiosk/heartbeat", json=payload, headers=bearer(dev["token"]), timeout=10)
    assert resp.status_code == 204 and resp.content == b""
    devices = json.loads(server_cli(live.db, "devices", "--json").stdout)
    row = next(d for d in devices if d["id"] == dev["device_id"])
    assert (row["pending"], row["kept_aside"], row["app_version"], row["last_error"]) == (17, 2, "9.8.7", "network: timeout")
    assert row["name"] == "Quầy 3" and row["last_seen_at"]
    assert abs(row["clock_offset_s"]) < 60


def test_clock_off_by_an_hour_is_flagged(live, device):
    on_time = [make_record(1), make_record(2)]
    skewed = [make_record(3), make_record(4)]
    assert upload(live, device["token"], on_time).status_code == 200
    assert upload(live, device["token"], skewed, dt=device_time(timedelta(hours=1))).status_code == 200
    future = make_record(5, created=(now_local() + timedelta(hours=1)))
    assert upload(live, device["token"], [future]).status_code == 200  # device_time fine, created_at in the future
    flags = {r["id"]: _stored(live, r["id"])["clock_suspect"] for r in on_time + skewed + [future]}
    assert [flags[r["id"]] for r in on_time] == [0, 0]
    assert [flags[r["id"]] for r in skewed] == [1, 1]
    assert flags[future["id"]] == 1
    stored = _stored(live, future["id"])
    assert stored["received_at"] != stored["created_at"]  # both times are kept


def test_nul_characters_are_refused_alike_on_every_back_end(live, device):
    """PostgreSQL cannot store NUL in text; SQLite could. Both answer 422, nothing stored."""
    body = {"pending": 0, "app_version": "1", "device_time": device_time(), "last_error": "bad\u0000byte"}
    resp = requests.post(live.url + "/api/v1/kiosk/heartbeat", json=body, headers=bearer(device["token"]), timeout=10)
    assert_error(resp, 422, "invalid_body")
    before = server_rows(live)
    record = make_record(1, officer_id="o\u0000x")
    resp = upload(live, device["token"], [record])
    assert resp.status_code == 200 and resp.json()["results"][0]["status"] == "rejected"
    assert server_rows(live) == before
