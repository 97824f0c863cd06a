"""The office's sync server (issue 17), end to end with real processes: kiosks (protocol v1 over
HTTP) → a relay (``hailong-server serve`` on its own SQLite file) → the province (``serve`` on
SQLite, or PostgreSQL in the PostgreSQL pass), the WAN between them a TCP proxy the test controls.

What is shown: every answer reaches the province exactly once, naming the kiosk it was given on
and the relay; an answer of a unit outside the relay's scope is refused upstream with the reason
and kept aside at the relay (CLI and status page); a questionnaire published at the province
reaches a kiosk behind the relay with no restart; a revoked relay keeps collecting and says why it
stopped forwarding; a cut link, a hanging link and a slow link lose nothing; a three-tier chain.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from datetime import datetime, timezone

from sync_server.storage import open_storage
from tests.records import bearer, make_record, server_db, upload, wait_until
from tests.support import LiveServer, free_port, server_cli, server_db_location
from tests.tcp_proxy import TcpProxy

# Fast turns for tests: look for new answers every 0.1 s, ask for config every second, give up a
# try after 3 s (a blackholed link), wait at most 2 s between tries.
RELAY_ENV = {"HAILONG_SERVER_RELAY_IDLE_S": "0.1", "HAILONG_SERVER_RELAY_CONFIG_EVERY_S": "1",
             "HAILONG_SERVER_RELAY_TIMEOUT_S": "3", "HAILONG_SERVER_RELAY_BACKOFF_MAX_S": "2",
             "HAILONG_SERVER_MAINTAIN_EVERY_S": "0"}


def relay_code(db, unit: str) -> str:
    return server_cli(db, "enroll-code", "--unit", unit, "--relay").stdout.strip().splitlines()[-1]


def status(relay: LiveServer) -> dict:
    return json.loads(server_cli(relay.db, "upstream-status", "--json").stdout)


def province_ids(province) -> list[str]:
    with server_db(province) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM responses")]


def drained(relay: LiveServer, timeout: float = 60.0) -> dict:
    state: dict = {}

    def done():
        state.update(status(relay))
        return state["pending"] == 0 and state["last_error"] is None

    wait_until(done, timeout=timeout, interval=0.2, what="the relay to drain")
    return state


def enrol_kiosk(server: LiveServer, unit: str, name: str = "Quầy 1") -> dict:
    resp = requests.post(server.url + "/api/v1/enroll", json={"code": server.enroll_code(unit), "name": name}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def chain(tmp_path):
    """Province, proxy, relay for Phường Bắc Giang (7210), enrolled and running."""
    province = LiveServer(server_db_location(tmp_path, "province.sqlite3"), free_port(), RELAY_ENV)
    province.start()
    proxy = TcpProxy(province.port)
    relay = LiveServer(tmp_path / "relay.sqlite3", free_port(), RELAY_ENV)
    out = server_cli(relay.db, "enroll-upstream", "--upstream", proxy.url, "--code", relay_code(province.db, "7210"))
    assert "7210" in out.stdout
    relay.start()
    yield province, proxy, relay
    relay.stop()
    province.stop()
    proxy.close()


def test_answers_go_up_once_with_their_kiosk_and_relay(chain):
    province, proxy, relay = chain
    kiosk = enrol_kiosk(relay, "7210")
    records = [make_record(i + 1, "7210", {"overall": 1 + i % 5}) for i in range(120)]
    first = upload(relay, kiosk["token"], records[:80], gz=True)
    assert first.status_code == 200 and {r["status"] for r in first.json()["results"]} == {"accepted"}
    again = upload(relay, kiosk["token"], records[40:])  # a kiosk's retry overlapping what it sent
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 40 + ["accepted"] * 40
    assert drained(relay)["last_forward_at"]
    ids = province_ids(province)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))
    with server_db(province) as conn:
        rows = conn.execute("SELECT DISTINCT device_id, relay_id, channel FROM responses").fetchall()
        relay_device = conn.execute("SELECT id, kind FROM devices WHERE kind = 'relay'").fetchall()
    assert len(relay_device) == 1
    assert [tuple(r) for r in rows] == [(kiosk["device_id"], relay_device[0][0], "kiosk")]
    # The relay's token is no kiosk's, and a kiosk's token is no relay's.
    link = _relay_token(relay)
    refused = requests.post(province.url + "/api/v1/kiosk/responses", json={"responses": []}, headers=bearer(link), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "kiosk_token_required"
    kiosk_at_province = enrol_kiosk(province, "7210")
    refused = requests.get(province.url + "/api/v1/relay/config", headers=bearer(kiosk_at_province["token"]), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "relay_token_required"


def _relay_token(relay: LiveServer) -> str:
    with server_db(relay) as conn:
        return conn.execute("SELECT token FROM upstream_link").fetchone()[0]


def test_unit_outside_the_relays_scope_is_refused_upstream_and_kept_aside(chain, tmp_path):
    province, proxy, relay = chain
    inside = enrol_kiosk(relay, "7210")
    outside = enrol_kiosk(relay, "7228")  # the relay's own registry knows every unit; its upstream scope is 7210
    ours = [make_record(i + 1, "7210") for i in range(5)]
    theirs = [make_record(i + 1, "7228") for i in range(3)]
    assert upload(relay, inside["token"], ours).status_code == 200
    assert upload(relay, outside["token"], theirs).status_code == 200
    state = drained(relay)
    assert state["pending"] == 0
    assert sorted(province_ids(province)) == sorted(r["id"] for r in ours)
    with server_db(relay) as conn:
        kept = conn.execute("SELECT response_id, code, message FROM upstream_refused ORDER BY response_id").fetchall()
    assert sorted(k[0] for k in kept) == sorted(r["id"] for r in theirs)
    assert {k[1] for k in kept} == {"unit_out_of_scope"} and "7210" in kept[0][2]
    text = server_cli(relay.db, "upstream-status").stdout
    assert "kept aside (refused upstream): 3" in text
    # The status page at the relay shows them, with the reason, to its admin.
    secret = tmp_path / "password.txt"
    secret.write_text("relay-pass-123\n", encoding="utf-8")
    server_cli(relay.db, "users", "add", "--username", "it", "--role", "province_admin", "--password-file", str(secret))
    session = requests.Session()
    page = session.get(relay.url + "/login", timeout=10)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    session.post(relay.url + "/login", data={"username": "it", "password": "relay-pass-123", "csrf": csrf}, timeout=10)
    page = session.get(relay.url + "/admin/upstream", timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert "unit_out_of_scope" in page.text and theirs[0]["id"] in page.text
    assert "Chuyển phiếu lên" in page.text


def test_a_questionnaire_published_at_the_province_reaches_a_kiosk_behind_the_relay(chain, tmp_path):
    province, proxy, relay = chain
    kiosk = enrol_kiosk(relay, "7210")
    before = requests.get(relay.url + "/api/v1/kiosk/config", headers=bearer(kiosk["token"]), timeout=10)
    assert before.json()["questionnaire"]["version"] == 1
    doc = json.loads((Path(__file__).resolve().parents[1] / "assets" / "questionnaires" / "default.json").read_text(encoding="utf-8"))
    doc["version"] = 2
    doc["title"] = {"vi": "Khảo sát mức độ hài lòng (bản 2)", "en": "Satisfaction survey (v2)"}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    server_cli(province.db, "questionnaire", str(path), "--publish")
    got: dict = {}

    def arrived():
        resp = requests.get(relay.url + "/api/v1/kiosk/config", headers={**bearer(kiosk["token"]),
                                                                          "If-None-Match": before.headers["ETag"]}, timeout=10)
        if resp.status_code == 200:
            got.update(resp.json())
        return got.get("questionnaire", {}).get("version") == 2

    wait_until(arrived, timeout=30, interval=0.3, what="version 2 at the kiosk behind the relay")
    assert got["questionnaire"]["title"]["vi"] == "Khảo sát mức độ hài lòng (bản 2)"
    record = make_record(1, "7210", questionnaire={"id": "bg-friendly-gov", "version": 2})
    assert upload(relay, kiosk["token"], [record]).json()["results"][0]["status"] == "accepted"
    drained(relay)
    with server_db(province) as conn:
        assert conn.execute("SELECT questionnaire_version FROM responses WHERE id = ?", (record["id"],)).fetchone()[0] == 2


def test_a_revoked_relay_keeps_collecting_and_says_why_it_stopped(chain):
    province, proxy, relay = chain
    kiosk = enrol_kiosk(relay, "7210")
    assert upload(relay, kiosk["token"], [make_record(1, "7210")]).status_code == 200
    drained(relay)
    with server_db(province) as conn:
        relay_id = conn.execute("SELECT id FROM devices WHERE kind = 'relay'").fetchone()[0]
    server_cli(province.db, "revoke-device", "--device", relay_id)
    later = [make_record(i + 2, "7210") for i in range(4)]
    assert {r["status"] for r in upload(relay, kiosk["token"], later).json()["results"]} == {"accepted"}
    state: dict = {}

    def refused():
        state.update(status(relay))
        return state["last_error"] and "device_revoked" in state["last_error"]

    wait_until(refused, timeout=30, interval=0.2, what="the relay to report its revocation")
    assert state["pending"] == 4 and "enrol it again" in state["last_error"]
    assert len(province_ids(province)) == 1
    # Enrolled again with a new code: everything held goes up; what the province had is a duplicate.
    server_cli(relay.db, "enroll-upstream", "--upstream", proxy.url, "--code", relay_code(province.db, "7210"))
    drained(relay)
    assert len(province_ids(province)) == 5 and len(set(province_ids(province))) == 5


def test_cut_hanging_and_slow_links_lose_nothing(chain):
    province, proxy, relay = chain
    kiosk = enrol_kiosk(relay, "7210")
    sent: list[str] = []
    for phase, mode in enumerate(("drop", "blackhole", "delay", "pass")):
        proxy.set(mode, delay_s=0.05 if mode == "delay" else 0.0)
        batch = [make_record(phase * 100 + i + 1, "7210") for i in range(50)]
        assert upload(relay, kiosk["token"], batch).status_code == 200  # the LAN side always works
        sent += [r["id"] for r in batch]
        time.sleep(1.5)
        if mode in ("drop", "blackhole"):
            assert status(relay)["last_error"], mode  # said, not hidden
        proxy.cut()
    proxy.set("pass")
    drained(relay, timeout=90)
    ids = province_ids(province)
    assert sorted(ids) == sorted(sent) and len(ids) == len(set(ids))


def test_three_tiers_kiosk_office_province_nation(tmp_path):
    """A province forwards to a national collector exactly as an office forwards to the province."""
    nation = LiveServer(tmp_path / "nation.sqlite3", free_port(), RELAY_ENV)
    province = LiveServer(server_db_location(tmp_path, "province.sqlite3"), free_port(), RELAY_ENV)
    office = LiveServer(tmp_path / "office.sqlite3", free_port(), RELAY_ENV)
    nation.start()
    try:
        storage = open_storage(province.db)  # the province's own config, which the nation must not overwrite
        try:
            storage.add_officer("cb-7228-1", "7228", "Trần Văn Bình", None, None, None, datetime.now(timezone.utc))
        finally:
            storage.close()
        out = server_cli(province.db, "enroll-upstream", "--upstream", nation.url, "--code", relay_code(nation.db, "24"))
        assert "config: this server's own" in out.stdout  # a province-level unit keeps its config by default
        province.start()
        server_cli(office.db, "enroll-upstream", "--upstream", province.url, "--code", relay_code(province.db, "7210"))
        office.start()
        at_office = enrol_kiosk(office, "7210")
        at_province = enrol_kiosk(province, "7228")
        a = [make_record(i + 1, "7210") for i in range(30)]
        b = [make_record(i + 1, "7228") for i in range(20)]
        upload(office, at_office["token"], a)
        upload(province, at_province["token"], b)
        drained(office)

        def nation_has_all():
            return len(province_ids(nation)) == 50 and status(province)["pending"] == 0

        wait_until(nation_has_all, timeout=60, interval=0.3, what="all 50 answers at the national collector")
        ids = province_ids(nation)
        assert sorted(ids) == sorted(r["id"] for r in a + b)
        with server_db(nation) as conn:
            via = {r[0]: r[1] for r in conn.execute("SELECT unit_code, COUNT(DISTINCT relay_id) FROM responses GROUP BY unit_code")}
        assert via == {"7210": 1, "7228": 1}  # both through the province's relay link
        with server_db(province) as conn:
            assert conn.execute("SELECT active FROM officers WHERE id = 'cb-7228-1'").fetchone()[0] == 1
    finally:
        office.stop()
        province.stop()
        nation.stop()


def test_sites_and_officers_of_the_province_reach_the_relay_and_its_answers_keep_their_site(chain):
    """The relay mirrors its units' sites (with the province's ids) and officers: a kiosk enrolled at
    the relay to the province's second site and counter shows that site, rates that officer, and its
    answer is at that site at the province."""
    province, proxy, relay = chain
    storage = open_storage(province.db)
    try:
        now = datetime.now(timezone.utc)
        site = storage.add_site("7210", "Bộ phận Một cửa – cơ sở 2", now, hotline="0204 3 111 222")
        storage.add_counter(site["id"], "3", "Quầy 3 — Đất đai")
        storage.add_officer("cb-7210-9", "7210", "Nguyễn Thị Mai", "Công chức Địa chính", None, None, now)
    finally:
        storage.close()

    def mirrored():
        with server_db(relay) as conn:
            row = conn.execute("SELECT name FROM sites WHERE id = ?", (site["id"],)).fetchone()
            officer = conn.execute("SELECT name FROM officers WHERE id = 'cb-7210-9' AND active = 1").fetchone()
        return row is not None and officer is not None

    wait_until(mirrored, timeout=30, interval=0.3, what="the province's site and officer at the relay")
    code = server_cli(relay.db, "enroll-code", "--unit", "7210", "--site", str(site["id"]), "--counter", "3").stdout.strip().splitlines()[-1]
    kiosk = requests.post(relay.url + "/api/v1/enroll", json={"code": code}, timeout=10).json()
    config = requests.get(relay.url + "/api/v1/kiosk/config", headers=bearer(kiosk["token"]), timeout=10).json()
    assert config["site"]["name"] == "Bộ phận Một cửa – cơ sở 2" and config["site"]["counter_name"] == "Quầy 3 — Đất đai"
    assert config["settings"]["hotline"] == "0204 3 111 222"
    assert "cb-7210-9" in {o["id"] for o in config["officers"]}
    record = make_record(1, "7210", officer_id="cb-7210-9")
    assert upload(relay, kiosk["token"], [record]).json()["results"][0]["status"] == "accepted"
    drained(relay)
    with server_db(province) as conn:
        row = conn.execute("SELECT site_id, officer_id FROM responses WHERE id = ?", (record["id"],)).fetchone()
    assert tuple(row) == (site["id"], "cb-7210-9")


def test_a_conflict_at_the_relay_is_passed_up_and_filed_at_both_ends(chain):
    province, proxy, relay = chain
    kiosk = enrol_kiosk(relay, "7210")
    record = make_record(1, "7210", {"overall": 5})
    changed = {**record, "answers": {"overall": 1}}  # the same id, other content: a kiosk bug or a forged replay
    assert upload(relay, kiosk["token"], [record]).json()["results"][0]["status"] == "accepted"
    answer = upload(relay, kiosk["token"], [changed]).json()["results"][0]
    assert answer["status"] == "conflict" and answer["error"]["code"] == "response_conflict"
    drained(relay)
    with server_db(province) as conn:
        stored = conn.execute("SELECT answers FROM responses WHERE id = ?", (record["id"],)).fetchall()
        filed = conn.execute("SELECT record FROM response_conflicts WHERE response_id = ?", (record["id"],)).fetchall()
    assert [json.loads(r[0]) for r in stored] == [{"overall": 5}]  # the first content stands
    assert len(filed) == 1 and json.loads(filed[0][0])["answers"] == {"overall": 1}
    with server_db(relay) as conn:
        assert conn.execute("SELECT COUNT(*) FROM response_conflicts").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM upstream_refused").fetchone()[0] == 0


def test_the_relays_phone_form_works_while_the_wan_is_down_and_its_answers_go_up(chain):
    """A citizen on the office Wi-Fi answers on the relay's QR form while the link is cut; the answer
    reaches the province, as a phone answer, when the link is back."""
    import re

    province, proxy, relay = chain
    proxy.set("drop")
    session = requests.Session()
    page = session.get(relay.url + "/s/7210", timeout=10)
    assert page.status_code == 200 and "q_overall" in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    sent = session.post(relay.url + "/s/7210", data={"csrf": token, "qid": "bg-friendly-gov", "qver": "1", "q_overall": "4"},
                        timeout=10, allow_redirects=False)
    assert sent.status_code == 303, sent.text[:300]
    time.sleep(1)
    assert status(relay)["pending"] == 1 and status(relay)["last_error"]
    assert province_ids(province) == []
    proxy.set("pass")
    drained(relay)
    with server_db(province) as conn:
        rows = conn.execute("SELECT channel, device_id, relay_id FROM responses").fetchall()
    assert len(rows) == 1 and rows[0][0] == "qr" and rows[0][1] is None and rows[0][2] is not None


def test_hostile_relay_uploads_get_clear_errors_and_store_nothing_wrong(chain):
    """An attacker holding a relay's token: bad bodies are refused whole (4xx), bad items one by one
    with their reason, a forged site of another unit is ignored; the good item beside them is stored."""
    province, proxy, relay = chain
    url, token = province.url + "/api/v1/relay/responses", _relay_token(relay)
    headers = {**bearer(token), "Content-Type": "application/json"}
    assert requests.post(url, data=b"{not json", headers=headers, timeout=10).json()["error"]["code"] == "invalid_json"
    assert requests.post(url, json={"responses": [], "boot_id": "x"}, headers=bearer(token), timeout=10).json()["error"]["code"] \
        == "unknown_field"
    assert requests.post(url, json={"responses": [], "device_time": 5}, headers=bearer(token), timeout=10).status_code == 422
    with server_db(province) as conn:
        other_site = conn.execute("SELECT id FROM sites WHERE unit_code = '7228' LIMIT 1").fetchone()[0]
    good = make_record(1, "7210")
    items = [
        {"record": good, "device_id": "kiosk-1", "placed_ms": None, "site_id": other_site},
        {"record": make_record(2, "7210"), "extra": 1},
        {"record": make_record(3, "7210"), "device_id": 7},
        {"record": make_record(4, "7210"), "placed_ms": "soon"},
        {"record": make_record(5, "7210"), "clock_suspect": "yes"},
        {"record": make_record(6, "7210"), "site_id": -1},
        {"record": make_record(7, "7228")},  # a unit outside the relay's scope
        {"record": make_record(8, "7210", officer_id="cb-nobody")},
        {"record": "DROP TABLE responses"},
        {"device_id": "kiosk-1"},
    ]
    results = requests.post(url, json={"responses": items}, headers=bearer(token), timeout=10).json()["results"]
    assert results[0]["status"] == "accepted"
    assert [r["error"]["code"] for r in results[1:]] == ["unknown_field", "invalid_field", "invalid_field", "invalid_field",
                                                         "invalid_field", "unit_out_of_scope", "unknown_officer", "invalid_item",
                                                         "invalid_item"]
    with server_db(province) as conn:
        rows = conn.execute("SELECT id, unit_code, site_id, device_id FROM responses").fetchall()
        own_sites = {r[0] for r in conn.execute("SELECT id FROM sites WHERE unit_code = '7210'")}
    assert [r[0] for r in rows] == [good["id"]]
    assert rows[0][2] in own_sites and rows[0][2] != other_site and rows[0][3] == "kiosk-1"
