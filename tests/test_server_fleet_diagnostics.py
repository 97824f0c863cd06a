"""Remote diagnostics on the fleet page (issue 16), through the real server and the real kiosk sync client.

A kiosk's heartbeat carries its diagnostics (self-test summary, disk, database size, uptime, clock);
the fleet page shows them and flags a kiosk whose clock is off by more than ``fleet_clock_tolerance_s``
(a kiosk 10 minutes off, sending through ``hailong-server serve``), with a count at the top. A province
admin asks a kiosk for its log: the request waits on the server, the kiosk finds it in its next
heartbeat's answer, uploads its log's last lines scrubbed of secrets, and the page shows them; request,
upload and viewing are audited; other roles are refused. Old kiosks (no diagnostics) still get 204; a
kiosk newer than its server drops what the server refuses. Schema step 12 upgrades a database in place.
A screenshot in headless Chromium: fleet_diagnostics.png (docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1).

The module name starts with ``test_server_`` so the PostgreSQL run (tests/conftest.py) takes it too.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from hailong_core.timeutil import now_local
from kiosk import diagnostics as kdiag
from kiosk import selftest
from kiosk import settings as kiosk_settings
from kiosk.selftest import TimeReport
from kiosk.store import Store
from kiosk.sync import ServerApi, SyncClient, SyncService, enroll
from sync_server import security
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS, statements
from tests.records import QREF, bearer, device_time, enroll_http
from tests.server_web import CSRF_RE, PASSWORD, add_users, login
from tests.screens import screen_path
from tests.support import BACKEND, PG_URL, LiveServer, free_port, server_db_location

SCREENSHOT = "fleet_diagnostics.png"  # in tmp_path; docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1
HEARTBEAT, LOG = "/api/v1/kiosk/heartbeat", "/api/v1/kiosk/log"
ON_TIME = TimeReport("Asia/Ho_Chi_Minh", True, 3.2, "10.24.0.1")
SECRETS = ("hl1_SuperSecretDeviceToken0123456789abcdef", "482913", "ABCD-EFGH-JKMN", "000.00.24.H06-250701-0001",
           "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """``hailong-server serve`` on a fresh database, with an account of every role."""
    srv = LiveServer(server_db_location(tmp_path_factory.mktemp("fleet")), free_port())
    srv.start()
    storage = open_storage(srv.db)
    add_users(storage)
    yield srv, storage
    storage.close()
    srv.stop()


def web(live_server, username: str = "province-admin") -> tuple[requests.Session, str]:
    """A browser-like session signed in through the login form, and its CSRF token."""
    session = requests.Session()
    token = CSRF_RE.search(session.get(live_server.url + "/login", timeout=10).text).group(1)
    resp = session.post(live_server.url + "/login", data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 303, resp.text[:300]
    return session, CSRF_RE.search(session.get(live_server.url + "/", timeout=10).text).group(1)


class Kiosk:
    """A kiosk as it runs: its own store, settings and sync service, with a clock that may be off."""

    def __init__(self, live_server, folder: Path, name: str, offset: timedelta = timedelta(0), time_report=ON_TIME):
        folder.mkdir(parents=True, exist_ok=True)
        self.store = Store(folder / "kiosk.sqlite3")
        self.data = enroll(self.store, live_server.url, live_server.enroll_code("7201"), name)
        self.settings = kiosk_settings.load(folder)
        self.diagnostics = kdiag.Diagnostics(self.store, self.settings, read_time=lambda: time_report)
        self.service = SyncService(self.store, self.settings, diagnostics=self.diagnostics, clock=lambda: now_local() + offset)

    @property
    def id(self) -> str:
        return self.data["device_id"]

    def sync(self) -> dict:
        report = self.service.run_round(force=True)
        assert report["error"] is None, report
        return report

    def close(self) -> None:
        self.store.close()


def _row(page: str, device_id: str) -> str:
    match = re.search(rf'<tr id="kiosk-{re.escape(device_id)}".*?</tr>', page, re.S)
    assert match, f"no row for {device_id}"
    return match.group(0)


# --- the clock flag ----------------------------------------------------------------------------------------

def test_a_kiosk_whose_clock_is_ten_minutes_off_is_flagged_on_the_fleet_page(live, tmp_path):
    srv, storage = live
    off = Kiosk(srv, tmp_path / "off", "Quầy lệch giờ", offset=timedelta(minutes=10))
    fine = Kiosk(srv, tmp_path / "fine", "Quầy đúng giờ")
    try:
        off.sync()
        fine.sync()
        assert 595 <= storage.device(off.id)["clock_offset_s"] <= 605  # measured by the server from device_time
        assert abs(storage.device(fine.id)["clock_offset_s"]) < 5
        admin, _ = web(srv)
        page = admin.get(srv.url + "/admin/fleet", timeout=10).text
        assert "Đồng hồ lệch +10 phút" in _row(page, off.id) and "+600 s" in _row(page, off.id)
        assert "Đồng hồ lệch" not in _row(page, fine.id)
        assert re.search(r'id="clock-alert">(\d+) máy có đồng hồ lệch quá 2 phút so với máy chủ', page).group(1) == str(
            sum(1 for d in storage.devices() if not d["revoked_at"] and abs(d["clock_offset_s"] or 0) > 120))
        english = admin.get(srv.url + "/admin/fleet", cookies={"hl_lang": "en"}, timeout=10).text
        assert "Clock off by +10 min" in _row(english, off.id) and "more than 2 min off the server" in english
    finally:
        off.close()
        fine.close()


def test_the_tolerance_is_a_setting(tmp_path):
    from sync_server import settings as server_settings
    from sync_server.app import create_app

    db = server_db_location(tmp_path)
    storage = open_storage(db)
    add_users(storage)
    app = create_app(server_settings.load(db=str(db), fleet_clock_tolerance_s=60), storage)
    now = datetime.now(timezone.utc)
    ids = {}
    for i, offset in enumerate((90.0, -30.0)):
        storage.create_enroll_code("7201", security.digest(f"TOLCODE{i:05d}"), now + timedelta(hours=1))
        ids[offset] = storage.redeem_enroll_code(security.digest(f"TOLCODE{i:05d}"), now, f"dev-tol-{i}", security.digest(f"t{i}"),
                                                 f"Quầy {i}").id
        storage.record_heartbeat(ids[offset], now, {"pending": 0, "app_version": "1", "clock_offset_s": offset})
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/fleet").text
    assert "Đồng hồ lệch +1 phút 30 giây" in _row(page, ids[90.0]) and "Đồng hồ lệch" not in _row(page, ids[-30.0])
    assert "1 máy có đồng hồ lệch quá 1 phút" in page
    app = create_app(server_settings.load(db=str(db)), storage)  # the default, 120 s: 90 s is not flagged
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/fleet").text
    assert "Đồng hồ lệch" not in page and 'id="clock-alert"' not in page
    storage.close()


# --- diagnostics ---------------------------------------------------------------------------------------------

def test_the_heartbeat_carries_the_diagnostics_and_the_fleet_page_shows_them(live, tmp_path):
    srv, storage = live
    kiosk = Kiosk(srv, tmp_path / "k", "Quầy chẩn đoán", time_report=TimeReport("Asia/Bangkok", False, None, None))
    try:
        # The last full self-test (the installer's) found the window failing; the light checks ran since.
        selftest.record_results(kiosk.store, [("database", "ok", "schema 6"), ("qt", "fail", "RuntimeError: no display")],
                                full=True, at="2026-03-02T08:00:00+07:00")
        kiosk.store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 4})
        kiosk.sync()
        row = storage.device_diagnostics([kiosk.id])[kiosk.id]
        body = row["diagnostics"]
        assert body["selftest"]["fail"] == 1 and body["selftest"]["failing"] == ["qt"]
        assert body["selftest"]["warning"] == ["time"]  # the system zone is not the province's, and NTP not reached
        assert body["selftest"]["full_at"] == "2026-03-02T08:00:00+07:00"
        assert body["disk_free_bytes"] > 0 and body["db_bytes"] >= kiosk.store.path.stat().st_size
        assert body["uptime_s"] >= 0 and body["time"] == {"zone": "Asia/Bangkok", "synchronized": False}
        assert row["reported_at"] and row["log_request_id"] is None

        admin, _ = web(srv)
        page = _row(admin.get(srv.url + "/admin/fleet", timeout=10).text, kiosk.id)
        assert "Tự kiểm tra: 1 lỗi (qt)" in page and 'badge bad' in page
        assert "Đĩa trống" in page and "Ứng dụng chạy" in page and "Giờ: Asia/Bangkok · CHƯA đồng bộ NTP" in page
        # An analyst sees the diagnostics too (not the log button: that is the province admin's).
        analyst, _ = web(srv, "province-analyst")
        seen = _row(analyst.get(srv.url + "/admin/fleet", timeout=10).text, kiosk.id)
        assert "Tự kiểm tra: 1 lỗi (qt)" in seen and "Xin nhật ký" not in seen
    finally:
        kiosk.close()


def test_old_kiosks_get_204_as_before_and_new_ones_200_with_what_is_asked(live):
    srv, storage = live
    device = enroll_http(srv, "7201", "Quầy cũ")
    storage.request_device_log(device["device_id"], str(uuid.uuid4()), 50, datetime.now(timezone.utc), None)
    old = {"pending": 3, "kept_aside": 0, "last_sync_at": None, "last_error": None, "app_version": "1.0.2", "device_time": device_time()}
    resp = requests.post(srv.url + HEARTBEAT, json=old, headers=bearer(device["token"]), timeout=10)
    assert resp.status_code == 204 and resp.content == b""  # an open request never reaches a kiosk that cannot read it
    resp = requests.post(srv.url + HEARTBEAT, json={**old, "diagnostics": {"uptime_s": 5}}, headers=bearer(device["token"]), timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    answer = resp.json()
    assert answer["log_request"]["lines"] == 50 and set(answer) == {"log_request", "server_time"}


# --- the log ----------------------------------------------------------------------------------------------------

def test_a_province_admin_asks_for_the_log_and_reads_it_scrubbed(live, tmp_path):
    srv, storage = live
    kiosk = Kiosk(srv, tmp_path / "k", "Quầy nhật ký")
    level = logging.getLogger().level
    handler = kdiag.install_log_file(kdiag.log_path(kiosk.store))
    try:
        kiosk.sync()
        talk = logging.getLogger("kiosk.test_fleet")
        talk.info("sync round: 3 answers sent")
        talk.warning("header Authorization: Bearer %s", SECRETS[0])
        talk.info("admin pin=%s accepted; enrol code %s; answer tied to dossier %s", SECRETS[1], SECRETS[2], SECRETS[3])
        talk.info('config {"admin_pin_hash": "%s", "unit_code": "7201"}', SECRETS[4])
        talk.info("Phiếu đã lưu: rất hài lòng")
        handler.flush()

        admin, csrf = web(srv)
        resp = admin.post(srv.url + f"/admin/fleet/{kiosk.id}/log", data={"csrf": csrf, "lines": "50"}, allow_redirects=False,
                          timeout=10)
        assert resp.status_code == 303 and resp.headers["location"] == f"/admin/fleet/{kiosk.id}/log?ok=ok_log_requested"
        waiting = admin.get(srv.url + resp.headers["location"], timeout=10).text
        assert 'id="log-pending"' in waiting and "Chưa nhận nhật ký nào" in waiting
        assert "Đã xin nhật ký lúc" in _row(admin.get(srv.url + "/admin/fleet", timeout=10).text, kiosk.id)
        request = storage.device_log_request(kiosk.id)
        assert request["lines"] == 50 and request["requested_by"] == "province-admin"

        kiosk.sync()  # the heartbeat's answer carries the request; the kiosk uploads at once
        assert storage.device_log_request(kiosk.id) is None
        stored = storage.device_log(kiosk.id)
        assert stored["asked_by"] == "province-admin" and 5 <= stored["line_count"] <= 50 and not stored["truncated"]
        page = admin.get(srv.url + f"/admin/fleet/{kiosk.id}/log", timeout=10).text
        text = re.search(r'<pre class="json" id="log-text"[^>]*>(.*?)</pre>', page, re.S).group(1)
        assert "sync round: 3 answers sent" in text and "Phiếu đã lưu: rất hài lòng" in text and "unit_code" in text
        for secret in SECRETS:
            assert secret not in text and secret not in stored["text"], secret
        assert text.count("[đã ẩn]") >= 5
        assert "Nhật ký nhận lúc" in _row(admin.get(srv.url + "/admin/fleet", timeout=10).text, kiosk.id)

        kiosk.sync()  # nothing asked any more: nothing sent again
        assert storage.device_log(kiosk.id)["received_at"] == stored["received_at"]
        actions = [(a["action"], a["target"]) for a in storage.audit_log(50) if a["target"] == kiosk.id]
        assert actions.count(("device.log_request", kiosk.id)) == 1 and actions.count(("device.log_upload", kiosk.id)) == 1
        assert ("device.log_view", kiosk.id) in actions
        request_entry = next(a for a in storage.audit_log(50) if a["action"] == "device.log_request" and a["target"] == kiosk.id)
        assert request_entry["username"] == "province-admin" and request_entry["detail"]["lines"] == 50
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
        handler.close()
        kiosk.close()


@pytest.mark.parametrize("who", ["province-analyst", "district-viewer", "commune-viewer"])
def test_only_the_province_admin_may_ask_for_or_read_a_log(live, who):
    srv, storage = live
    device = enroll_http(srv, "7201", f"Quầy {who}")
    session, csrf = web(srv, who)
    assert session.post(srv.url + f"/admin/fleet/{device['device_id']}/log", data={"csrf": csrf}, allow_redirects=False,
                        timeout=10).status_code == 403
    assert session.get(srv.url + f"/admin/fleet/{device['device_id']}/log", allow_redirects=False, timeout=10).status_code == 403
    assert storage.device_log_request(device["device_id"]) is None


def test_log_uploads_are_bounded_and_only_answer_the_open_request(live):
    srv, storage = live
    device = enroll_http(srv, "7201", "Quầy giới hạn")
    headers = bearer(device["token"])
    stray = {"request_id": str(uuid.uuid4()), "lines": ["x"], "truncated": False}
    resp = requests.post(srv.url + LOG, json=stray, headers=headers, timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    rid = str(uuid.uuid4())
    storage.request_device_log(device["device_id"], rid, 200, datetime.now(timezone.utc), None)
    for lines, what in ((["x"] * 501, "too many lines"), (["x" * 2001], "a line too long"),
                        (["ư" * 2000] * 20, "more than 64 KiB")):
        resp = requests.post(srv.url + LOG, json={"request_id": rid, "lines": lines}, headers=headers, timeout=10)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_body", what
    assert storage.device_log_request(device["device_id"])["id"] == rid  # refused uploads leave it open
    ok = requests.post(srv.url + LOG, json={"request_id": rid, "lines": ["một", "hai"]}, headers=headers, timeout=10)
    assert ok.status_code == 204
    again = requests.post(srv.url + LOG, json={"request_id": rid, "lines": ["ba"]}, headers=headers, timeout=10)
    assert again.status_code == 404  # answered: a replay stores nothing
    assert storage.device_log(device["device_id"])["text"] == "một\nhai"


def test_a_revoked_kiosk_cannot_be_asked(live):
    srv, storage = live
    device = enroll_http(srv, "7201", "Quầy thu hồi")
    storage.revoke_device(device["device_id"], datetime.now(timezone.utc))
    admin, csrf = web(srv)
    resp = admin.post(srv.url + f"/admin/fleet/{device['device_id']}/log", data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert resp.status_code == 400 and storage.device_log_request(device["device_id"]) is None


def test_the_log_tail_is_bounded_and_scrubbed(tmp_path):
    log = tmp_path / "kiosk.log"
    (tmp_path / "kiosk.log.1").write_text("".join(f"old {i}\n" for i in range(300)), encoding="utf-8")
    log.write_text("".join(f"new {i} token=hl1_abcdefghijk{i}\n" for i in range(100)), encoding="utf-8")
    lines, truncated = kdiag.read_tail(log, 150)
    assert lines[0] == "old 250" and lines[-1] == "new 99 token=[đã ẩn]" and len(lines) == 150 and not truncated
    big = [f"{i} " + "đ" * 900 for i in range(200)]
    log.write_text("\n".join(big) + "\n", encoding="utf-8")
    lines, truncated = kdiag.read_tail(log, 200)
    assert truncated and sum(len(x.encode()) + 1 for x in lines) <= kdiag.MAX_LOG_BYTES and lines[-1] == big[-1]
    assert kdiag.scrub("scanned H24.22-250701-0001 and QN-2026-77", dossier_pattern=r"QN-[0-9]{4}-[0-9]+") == \
        "scanned [đã ẩn] and [đã ẩn]"
    assert kdiag.scrub("answer 0190a1b2-1234-7abc-8def-0123456789ab sent") == "answer 0190a1b2-1234-7abc-8def-0123456789ab sent"
    missing, _ = kdiag.read_tail(tmp_path / "none.log", 10, run=lambda *a, **k: (_ for _ in ()).throw(OSError("no journalctl")))
    assert missing == [f"(no log file at {tmp_path / 'none.log'})"]


# --- a kiosk newer than its server ----------------------------------------------------------------------------------

class OlderServer(BaseHTTPRequestHandler):
    """A server that knows heartbeats but not (all of) their diagnostics: refuses by name, as ours does."""

    refuse: str = "diagnostics"
    bodies: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        top, _, sub = self.refuse.partition(".")
        if top in body and (not sub or sub in body[top]):
            data = json.dumps({"error": {"code": "unknown_field", "message": f"unknown field '{self.refuse}'"}}).encode()
            self.send_response(422)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("refuse", ["diagnostics", "diagnostics.time", "update"])
def test_a_kiosk_newer_than_its_server_drops_what_the_server_refuses(tmp_path, refuse):
    OlderServer.refuse, OlderServer.bodies = refuse, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), OlderServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    store = Store(tmp_path / "kiosk.sqlite3")
    try:
        api = ServerApi(f"http://127.0.0.1:{httpd.server_address[1]}", "hl1_token")
        diag = kdiag.Diagnostics(store, kiosk_settings.load(tmp_path), read_time=lambda: ON_TIME)
        client = SyncClient(store, api, diagnostics=diag.collect)
        if refuse == "update":  # another optional field (the remote update's report): dropped the same way
            beat = {"pending": 0, "app_version": "1", "device_time": device_time(), "update": {"version": "2", "outcome": "installed"}}
            assert api.heartbeat(beat) is None and api.heartbeat(beat) is None
            assert api.refused_heartbeat_fields == {"update"} and api.send_boot_stamp is True
            assert ["update" in b for b in OlderServer.bodies] == [True, False, False]
            return
        assert client.heartbeat() is None and client.heartbeat() is None
        if refuse == "diagnostics":
            assert api.send_diagnostics is False
            assert ["diagnostics" in b for b in OlderServer.bodies] == [True, False, False]
        else:
            assert api.refused_diagnostics == {"time"}
            assert [("time" in b["diagnostics"]) for b in OlderServer.bodies] == [True, False, False]
            assert all("uptime_s" in b["diagnostics"] for b in OlderServer.bodies)
    finally:
        store.close()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --- schema step 12 ------------------------------------------------------------------------------------------------------

def _step_11_database(tmp_path):
    """A database at schema step 11 holding a unit and an enrolled kiosk that sent heartbeats."""
    if BACKEND == "postgres":
        import psycopg

        from sync_server.storage.postgres import PGConnection, translate_ddl

        name = "t_step11_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        location = PG_URL.rpartition("/")[0] + "/" + name
        conn = PGConnection(psycopg.connect(location, autocommit=True))
        for step in MIGRATIONS[:11]:
            for statement in statements(step, "postgres"):
                conn.execute(translate_ddl(statement))
        conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (11)")
    else:
        location = tmp_path / "step11.sqlite3"
        conn = sqlite3.connect(str(location), isolation_level=None)
        for step in MIGRATIONS[:11]:
            for statement in statements(step, "sqlite"):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 11")
    conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES ('24', 'Tỉnh Bắc Giang', 'province', NULL, "
                 "'2023-01-01')")
    conn.execute("INSERT INTO unit_versions (code, valid_from, name, level, parent_code) VALUES ('24', '2023-01-01', "
                 "'Tỉnh Bắc Giang', 'province', NULL)")
    conn.execute("INSERT INTO devices (id, unit_code, name, token_hash, enrolled_at, last_seen_at, pending, clock_offset_s, "
                 "app_version) VALUES ('dev-old', '24', 'Quầy cũ', 'h', '2026-01-05T08:00:00+07:00', '2026-01-05T09:00:00+07:00', 7, "
                 "640.0, '1.0.2')")
    conn.close()
    return location


def test_step_12_upgrades_a_database_with_kiosks_in_place(tmp_path):
    location = _step_11_database(tmp_path)
    storage = open_storage(location)
    try:
        assert storage.schema_version() == len(MIGRATIONS) >= 12
        old = storage.device("dev-old")
        assert (old["name"], old["pending"], old["clock_offset_s"]) == ("Quầy cũ", 7, 640.0)
        assert storage.device_diagnostics() == {}
        now = datetime.now(timezone.utc)
        storage.record_heartbeat("dev-old", now, {"pending": 2, "app_version": "1.1.0", "clock_offset_s": 1.5,
                                                  "diagnostics": {"uptime_s": 12.5, "selftest": {"ok": 5, "warn": 0, "fail": 0}}})
        assert storage.device_diagnostics(["dev-old"])["dev-old"]["diagnostics"]["uptime_s"] == 12.5
        assert storage.device("dev-old")["pending"] == 2
    finally:
        storage.close()


# --- the screenshot -------------------------------------------------------------------------------------------------------

SEEDED: dict = {}


def _seed_fleet(storage) -> None:
    """The screenshot tool's demo (older kiosks without diagnostics among them), and codes for three new kiosks."""
    from tools import server_screenshots as shots

    SEEDED["storage"] = storage  # the app's own storage: the test asks one kiosk for its log through it
    shots.seed(storage)
    now = datetime.now(timezone.utc)
    for i in range(3):
        storage.create_enroll_code("7201", security.digest(security.normalise_code(f"DIAGCODE{i:04d}")), now + timedelta(hours=1))


def test_screenshot_of_the_fleet_with_diagnostics_and_a_clock_flagged_kiosk(tmp_path):
    from tools import server_screenshots as shots

    if not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    with shots.live_app(server_db_location(tmp_path), seed_fn=_seed_fleet) as base:
        stores = []
        try:
            for i, (name, offset, report) in enumerate((
                    ("Quầy 3 – Thọ Xương (đồng hồ lệch)", timedelta(minutes=10), TimeReport("Asia/Ho_Chi_Minh", False, None, None)),
                    ("Quầy 4 – Thọ Xương", timedelta(0), ON_TIME),
                    ("Quầy 5 – Thọ Xương", timedelta(seconds=-20), ON_TIME))):
                folder = tmp_path / f"kiosk{i}"
                folder.mkdir()
                store = Store(folder / "kiosk.sqlite3")
                stores.append(store)
                data = enroll(store, base, f"DIAGCODE{i:04d}", name)
                if i == 1:  # the installer's self-test found the window failing on this one
                    selftest.record_results(store, [("database", "ok", ""), ("qt", "fail", "RuntimeError: no display")], full=True)
                settings = kiosk_settings.load(folder)
                service = SyncService(store, settings, diagnostics=kdiag.Diagnostics(store, settings, read_time=lambda r=report: r),
                                      clock=lambda o=offset: now_local() + o)
                assert service.run_round(force=True)["error"] is None
                if i == 2:  # a log asked for and received
                    SEEDED["storage"].request_device_log(data["device_id"], str(uuid.uuid4()), 200, datetime.now(timezone.utc), None)
                    assert service.run_round(force=True)["error"] is None
                    assert SEEDED["storage"].device_log(data["device_id"]) is not None
            driver = shots.chromium(1600, 700)
            try:
                shots.sign_in(driver, base)
                driver.get(base + "/admin/fleet")
                body = driver.find_element(By.TAG_NAME, "body").text
                assert "Đồng hồ lệch +10 phút" in body and "máy có đồng hồ lệch quá 2 phút" in body
                assert "Tự kiểm tra: 1 lỗi (qt)" in body and "Đĩa trống" in body
                shot = screen_path(tmp_path, SCREENSHOT)
                shots.full_page_png(driver, shot, width=1600)
                assert shot.stat().st_size > 20_000
            finally:
                driver.quit()
        finally:
            for store in stores:
                store.close()
