"""Issue 15, Zalo OA access-token renewal: a Zalo channel given its app's id, the app's secret key and the
OA's refresh token renews its access token with Zalo's OAuth v4 (``POST /v4/oa/access_token``), tried
against a local fake of Zalo (the OA message API and the OAuth endpoint on one HTTP server in a thread on
127.0.0.1) with a real app and database:

- a channel with no token, or one about to run out, is renewed before sending and the message goes out
  with the new token; each new refresh token is stored and the used one never sent again (the fake
  refuses a reused refresh token, as Zalo does);
- two senders on two storage connections racing over an expired token renew once and both send;
- a -216 answer gives one renewal and one resend; a token Zalo keeps refusing is not renewed in a loop;
- a revoked refresh token marks the channel with the clear Vietnamese error on /admin/alerts, and the
  channel sends nothing (no retry storm) until an admin pastes a new refresh token;
- secrets never appear on the page, in the audit log, in the delivery log, in the CLI or in the log;
- the CLI takes the app id and the keys from standard input.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from sync_server import alert_delivery, maintenance
from sync_server.indexes import ServerState
from sync_server.storage import open_storage
from tests.results_world import enrol, upload
from tests.server_web import add_users, login, make_app
from tests.screens import screen_path
from tests.support import ROOT

APP_ID = "2874519063817264519"
APP_SECRET = "AppSecretKey" + "q8Zr" * 4
REFRESH = "zalo-refresh-token-first-" + "Rt7w" * 20
PASTED = "zalo-pasted-access-token-" + "Pa3s" * 20
USER_ID = "8456123456789012345"
BASE = "https://hailong.bacgiang.gov.vn"
NOW = datetime.now(timezone.utc)


class FakeZalo:
    """Zalo's OA API v3 (``POST /v3.0/oa/message/cs``) and OAuth v4 (``POST /v4/oa/access_token``) on 127.0.0.1.

    OAuth, as Zalo documents it: form fields ``refresh_token, app_id, grant_type=refresh_token``, header
    ``secret_key``; a refresh token works once and each renewal answers a new access token, a new refresh
    token and ``expires_in`` (a string of seconds, 25 hours); a used, revoked or unknown refresh token gets
    HTTP 200 with a negative ``error`` and ``error_name``. The message API accepts the access tokens it
    issued (and ``accept`` ones) and answers -216 to any other; ``refuse_all`` makes it refuse every token.
    ``oauth_delay_s`` slows the OAuth answer so that racing senders overlap.
    """

    def __init__(self, refresh_tokens=(REFRESH,), accept=()):
        self.lock = threading.Lock()
        self.live_refresh = set(refresh_tokens)
        self.spent_refresh: set[str] = set()
        self.live_access = set(accept)
        self.issued: list[str] = []
        self.renewals: list[dict] = []
        self.messages: list[dict] = []
        self.reused = 0
        self.refuse_all = False
        self.oauth_delay_s = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v4/oa/access_token":
                    status, answer = fake.oauth(dict(self.headers), {k: v[0] for k, v in parse_qs(body.decode()).items()})
                elif self.path == "/v3.0/oa/message/cs":
                    status, answer = fake.message(dict(self.headers), json.loads(body))
                else:
                    status, answer = 404, {"error": 404, "message": "not found"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def oauth(self, headers, form):
        with self.lock:
            self.renewals.append({"headers": headers, "form": form})
        time.sleep(self.oauth_delay_s)
        if form.get("grant_type") != "refresh_token" or form.get("app_id") != APP_ID or headers.get("secret_key") != APP_SECRET:
            return 200, {"error": -14002, "error_name": "Invalid app", "error_description": "app id or secret key is invalid"}
        with self.lock:
            token = form.get("refresh_token")
            if token in self.spent_refresh:
                self.reused += 1
            if token not in self.live_refresh:
                return 200, {"error": -14014, "error_name": "Invalid refresh token",
                             "error_description": "Refresh token is invalid or has been used"}
            self.live_refresh.discard(token)
            self.spent_refresh.add(token)
            access, refresh = f"za-access-{secrets.token_urlsafe(24)}", f"za-refresh-{secrets.token_urlsafe(24)}"
            self.live_access.add(access)
            self.live_refresh.add(refresh)
            self.issued += [access, refresh]
        return 200, {"access_token": access, "refresh_token": refresh, "expires_in": "90000"}

    def message(self, headers, body):
        with self.lock:
            self.messages.append({"token": headers.get("access_token"), "json": body})
            ok = headers.get("access_token") in self.live_access and not self.refuse_all
        if not ok:
            return 200, {"error": -216, "message": "Access token is invalid"}
        return 200, {"error": 0, "message": "Success", "data": {"message_id": f"m{len(self.messages)}"}}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def zalo():
    fake = FakeZalo()
    yield fake
    fake.stop()


def _settings(zalo: FakeZalo, **extra) -> dict:
    return {"public_base_url": BASE, "alert_zalo_api_url": zalo.url, "alert_zalo_oauth_url": zalo.url,
            "alert_http_timeout_s": 2.0, **extra}


def _app(tmp_path, zalo, alerts: bool = False, **extra):
    app, storage = make_app(tmp_path, **_settings(zalo, **extra))
    if alerts:  # four 1s at Thọ Xương (7201) and at Canh Nậu (7246): two unit alerts
        upload(app, enrol(app, storage, "7201"), "7201", [({"overall": 1}, [])] * 4)
        upload(app, enrol(app, storage, "7246"), "7246", [({"overall": 1}, [])] * 4)
    return app, storage


def _renewing(storage, name="Chánh Văn phòng UBND tỉnh", access=None, refresh=REFRESH) -> int:
    return alert_delivery.add_channel(storage, kind="zalo", name=name, target=USER_ID, secret=access, app_id=APP_ID,
                                      app_secret=APP_SECRET, refresh_token=refresh)


def _state(app) -> ServerState:
    return app.state.hailong


def _creds(storage, cid) -> dict:
    return alert_delivery.zalo_credentials(storage.alert_channel_secret(cid))


def _db(storage) -> str:
    return storage.url if hasattr(storage, "url") else str(storage.path)


# --- renewal before sending ----------------------------------------------------------------------------------

def test_a_missing_or_expiring_token_is_renewed_before_sending_and_each_refresh_token_is_used_once(tmp_path, zalo):
    app, storage = _app(tmp_path, zalo)
    cid = _renewing(storage)  # no access token yet: only what renews one
    first = alert_delivery.send_test(_state(app), cid, now=NOW)
    assert first["status"] == "sent", first["last_error"]
    assert len(zalo.renewals) == 1 and zalo.renewals[0]["form"] == {"refresh_token": REFRESH, "app_id": APP_ID,
                                                                     "grant_type": "refresh_token"}
    assert zalo.renewals[0]["headers"]["secret_key"] == APP_SECRET
    access1, refresh1 = zalo.issued
    assert [m["token"] for m in zalo.messages] == [access1]  # sent with the new token
    stored = _creds(storage, cid)
    assert (stored["access_token"], stored["refresh_token"]) == (access1, refresh1)  # the new refresh token is kept
    assert stored["expires_at"] == int(NOW.timestamp()) + 90000 and "lease_until" not in stored
    # Still valid 20 hours later: no renewal.
    assert alert_delivery.send_test(_state(app), cid, now=NOW + timedelta(hours=20))["status"] == "sent"
    assert len(zalo.renewals) == 1 and zalo.messages[-1]["token"] == access1
    # Five minutes before it runs out (25 h): renewed first, with the refresh token the last renewal gave.
    later = NOW + timedelta(seconds=90000 - 300)
    assert alert_delivery.send_test(_state(app), cid, now=later)["status"] == "sent"
    assert len(zalo.renewals) == 2 and zalo.renewals[1]["form"]["refresh_token"] == refresh1
    access2, refresh2 = zalo.issued[2:]
    assert zalo.messages[-1]["token"] == access2 and _creds(storage, cid)["refresh_token"] == refresh2
    assert zalo.reused == 0 and len(zalo.messages) == 3
    audit = [e for e in storage.audit_log() if e["action"].startswith("alert_channel.renew")]
    assert [e["action"] for e in audit] == ["alert_channel.renew"] * 2
    assert all(e["target"] == str(cid) for e in audit)


def test_a_plain_access_token_channel_works_as_before_and_is_not_renewed(tmp_path, zalo):
    app, storage = _app(tmp_path, zalo)
    zalo.live_access.add(PASTED)
    cid = alert_delivery.add_channel(storage, kind="zalo", name="Zalo cũ", target=USER_ID, secret=PASTED)
    assert storage.alert_channel_secret(cid) == PASTED  # the stored form of a channel from before renewal
    assert alert_delivery.send_test(_state(app), cid)["status"] == "sent"
    zalo.live_access.discard(PASTED)
    failed = alert_delivery.send_test(_state(app), cid)
    assert (failed["status"], failed["last_error"]) == ("failed", "Zalo error -216: Access token is invalid")
    assert zalo.renewals == [] and alert_delivery.credential_state(storage, storage.alert_channel(cid))["renews"] is False
    # Partial renewal credentials are refused by name.
    with pytest.raises(alert_delivery.ChannelError) as refused:
        alert_delivery.update_channel(storage, cid, refresh_token=REFRESH)
    assert refused.value.reason == "zalo_renewal"
    with pytest.raises(alert_delivery.ChannelError) as refused:
        alert_delivery.add_channel(storage, kind="telegram", name="TG", target="-1001", secret="7012345678:" + "A" * 35,
                                   refresh_token=REFRESH)
    assert refused.value.reason == "zalo_renewal"


# --- two senders -------------------------------------------------------------------------------------------------

def test_two_senders_racing_over_an_expired_token_renew_once(tmp_path, zalo):
    app, storage = _app(tmp_path, zalo)
    cid = _renewing(storage)
    zalo.oauth_delay_s = 0.6  # the first renewal is still under way when the second sender looks
    settings = _state(app).settings
    senders = [open_storage(_db(storage)) for _ in range(2)]  # two connections: as two server processes
    gate, results, errors = threading.Barrier(2), [], []

    def race(own) -> None:
        try:
            gate.wait(timeout=10)
            results.append(alert_delivery.send_test(ServerState(settings, own), cid, now=NOW))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(own,)) for own in senders]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        for own in senders:
            own.close()
    assert not errors, errors
    assert len(zalo.renewals) == 1 and zalo.reused == 0  # one renewal; the other sender waited for its token
    assert [r["status"] for r in results] == ["sent", "sent"], [r["last_error"] for r in results]
    assert [m["token"] for m in zalo.messages] == [zalo.issued[0]] * 2
    assert _creds(storage, cid)["refresh_token"] == zalo.issued[1]
    assert [e["action"] for e in storage.audit_log() if e["action"].startswith("alert_channel.renew")] == ["alert_channel.renew"]


# --- a refused token ----------------------------------------------------------------------------------------------

def test_a_216_answer_gives_one_renewal_and_one_resend_never_a_loop(tmp_path, zalo):
    app, storage = _app(tmp_path, zalo, alerts=True)
    cid = _renewing(storage, access=PASTED)  # a pasted token the fake does not know: its age is unknown
    assert "expires_at" not in _creds(storage, cid)
    d = alert_delivery.send_test(_state(app), cid, now=NOW - timedelta(hours=1))
    assert (d["status"], d["attempts"]) == ("sent", 1)
    assert [m["token"] for m in zalo.messages] == [PASTED, zalo.issued[0]] and len(zalo.renewals) == 1
    # An hour later Zalo refuses every token: the first alert renews once and resends once; the second is
    # sent with that new token, refused, and not renewed again.
    zalo.refuse_all = True
    start = datetime.now(timezone.utc)
    done = maintenance.run(storage, _state(app).settings, now=start, only=["alerts"])["alerts"]
    assert (done["queued"], done["sent"], done["failed"]) == (2, 0, 2)
    assert len(zalo.renewals) == 2 and len(zalo.messages) == 2 + 3  # alert 1: send, renew, resend; alert 2: send
    log = [x for x in storage.alert_deliveries(10) if x["kind"] == "alert"]
    assert {(x["status"], x["attempts"], x["last_error"]) for x in log} == {("failed", 1, "Zalo error -216: Access token is invalid")}
    maintenance.run(storage, _state(app).settings, now=start + timedelta(hours=1), only=["alerts"])
    assert (len(zalo.renewals), len(zalo.messages)) == (2, 5) and zalo.reused == 0


def test_a_revoked_refresh_token_stops_the_channel_with_a_clear_error_until_new_credentials(tmp_path, zalo):
    app, storage = _app(tmp_path, zalo, alerts=True)
    add_users(storage)
    zalo.live_refresh.clear()  # revoked (or used up elsewhere)
    cid = _renewing(storage)
    d = alert_delivery.send_test(_state(app), cid)
    assert d["status"] == "failed" and d["last_error"].startswith("Zalo token renewal refused (HTTP 200: -14014 Invalid "
                                                                  "refresh token Refresh token is invalid or has been used)")
    assert len(zalo.renewals) == 1 and zalo.messages == []
    state = alert_delivery.credential_state(storage, storage.alert_channel(cid))
    assert state["error"] and state["renews"]
    client, csrf = login(app, "province-admin")
    page = client.get("/admin/alerts").text
    assert "Cần cấp lại mã làm mới Zalo cho kênh «Chánh Văn phòng UBND tỉnh»" in page
    assert "Cần cấp lại mã làm mới Zalo: Zalo không chấp nhận gia hạn access token của kênh này (HTTP 200: -14014" in page
    # No retry storm: the alerts duty and another test send reach neither the OAuth endpoint nor the message API.
    start = datetime.now(timezone.utc)
    for minutes in (0, 5, 30):
        maintenance.run(storage, _state(app).settings, now=start + timedelta(minutes=minutes), only=["alerts"])
    again = alert_delivery.send_test(_state(app), cid)
    assert again["status"] == "failed" and "waits for a new refresh token" in again["last_error"]
    assert (len(zalo.renewals), len(zalo.messages)) == (1, 0)
    assert {(x["status"], x["attempts"]) for x in storage.alert_deliveries(20)} == {("failed", 1)}
    actions = [e["action"] for e in storage.audit_log() if e["action"].startswith("alert_channel.renew")]
    assert actions == ["alert_channel.renew_failed"]
    # The admin pastes a new refresh token (only that: the app id and secret key stay) on the page.
    fresh = "zalo-refresh-token-reissued-" + "Nw9k" * 10
    zalo.live_refresh.add(fresh)
    assert client.post("/admin/alerts/edit", data={"csrf": csrf, "channel": str(cid)}).status_code == 400  # nothing given
    resp = client.post("/admin/alerts/edit", data={"csrf": csrf, "channel": str(cid), "refresh_token": fresh})
    assert resp.status_code == 303
    assert alert_delivery.credential_state(storage, storage.alert_channel(cid))["error"] is None
    assert alert_delivery.send_test(_state(app), cid)["status"] == "sent"
    assert zalo.renewals[-1]["form"]["refresh_token"] == fresh and zalo.messages[-1]["token"] == zalo.issued[0]
    assert "Cần cấp lại mã làm mới Zalo" not in client.get("/admin/alerts").text


# --- secrets ---------------------------------------------------------------------------------------------------

def test_secrets_never_appear_on_the_page_the_audit_the_delivery_log_the_cli_or_the_log(tmp_path, zalo, caplog):
    app, storage = _app(tmp_path, zalo, alerts=True)
    add_users(storage)
    client, csrf = login(app, "province-admin")
    resp = client.post("/admin/alerts", data={"csrf": csrf, "kind": "zalo", "name": "Zalo tỉnh", "target": USER_ID,
                                              "secret": PASTED, "app_id": APP_ID, "app_secret": APP_SECRET,
                                              "refresh_token": REFRESH})
    assert resp.status_code == 303, resp.text[:300]
    cid = storage.alert_channels()[0]["id"]
    with caplog.at_level(logging.DEBUG):
        # -216 for the pasted token, renewal, resend; the next renewal then refused.
        assert alert_delivery.send_test(_state(app), cid)["status"] == "sent"
        zalo.live_refresh.clear()
        later = datetime.now(timezone.utc) + timedelta(hours=25)
        assert alert_delivery.send_test(_state(app), cid, now=later)["status"] == "failed"
    page = client.get("/admin/alerts").text
    assert "Cần cấp lại mã làm mới Zalo" in page and "đã đặt" in page
    audit = json.dumps(storage.audit_log(), ensure_ascii=False)
    assert "alert_channel.renew" in audit and "alert_channel.renew_failed" in audit
    errors = [d["last_error"] or "" for d in storage.alert_deliveries(100)]
    assert any("Zalo token renewal refused" in e for e in errors)
    listed = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", _db(storage), "alert-channels", "list", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(listed)[0]["zalo_token"]["error"]
    hidden = (APP_SECRET, REFRESH, PASTED, *zalo.issued)
    assert len(zalo.issued) == 2
    for text in (page, client.get("/admin/audit").text, audit, listed, caplog.text, *errors):
        for secret in hidden:
            assert secret not in text


# --- the CLI -------------------------------------------------------------------------------------------------------

def test_the_cli_takes_the_app_id_and_keys_from_stdin_and_renews(tmp_path, zalo):
    app, storage = _app(tmp_path, zalo)
    env = {**os.environ, "HAILONG_SERVER_ALERT_ZALO_API_URL": zalo.url, "HAILONG_SERVER_ALERT_ZALO_OAUTH_URL": zalo.url}

    def cli(*args, stdin=None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", _db(storage), "alert-channels", *args], cwd=ROOT,
                              input=stdin, capture_output=True, text=True, timeout=60, env=env)

    half = cli("add", "--kind", "zalo", "--name", "Zalo thiếu", "--target", USER_ID, "--zalo-app-id", APP_ID)
    assert half.returncode == 2 and "refresh token" in half.stderr
    added = cli("add", "--kind", "zalo", "--name", "Zalo Văn phòng", "--target", USER_ID, "--zalo-app-id", APP_ID,
                "--zalo-keys-stdin", stdin=f"{APP_SECRET}\n{REFRESH}\n")
    assert added.returncode == 0, added.stderr
    cid = int(added.stdout.strip().splitlines()[-1])
    tested = cli("test", "--id", str(cid))
    assert tested.returncode == 0 and "test message: sent" in tested.stdout, tested.stderr
    assert len(zalo.renewals) == 1 and zalo.messages[-1]["token"] == zalo.issued[0]
    listed = cli("list")
    assert "token renewed automatically, valid until" in listed.stdout
    for secret in (APP_SECRET, REFRESH, *zalo.issued):
        assert secret not in listed.stdout + tested.stdout + added.stdout
    # A new refresh token alone: the first line (the secret key) left empty keeps the stored one.
    fresh = "zalo-refresh-token-from-cli-" + "Cl1x" * 10
    edited = cli("edit", "--id", str(cid), "--zalo-keys-stdin", stdin=f"\n{fresh}\n")
    assert edited.returncode == 0, edited.stderr
    creds = _creds(storage, cid)
    assert (creds["app_secret"], creds["refresh_token"], creds["app_id"]) == (APP_SECRET, fresh, APP_ID)
    assert creds["access_token"] == zalo.issued[0]  # kept


# --- a screenshot of /admin/alerts with a renewing and a stopped Zalo channel ----------------------------------

@pytest.mark.sqlite_only
def test_screenshot_of_zalo_channels_on_the_alerts_page(tmp_path, zalo):
    from pathlib import Path

    from tests import axe
    from tools import server_screenshots as shots

    if not Path(shots.CHROMIUM).exists() or not Path(shots.CHROMEDRIVER).exists():
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    from sync_server import settings as server_settings
    from tests.support import server_db_location

    db = server_db_location(tmp_path)
    shot = screen_path(tmp_path, "admin_alerts_zalo.png")  # docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1

    def seed(storage) -> None:
        shots.seed(storage)
        state = ServerState(server_settings.load(db=str(db), **_settings(zalo)), storage)
        good = _renewing(storage, name="Chánh Văn phòng UBND tỉnh")
        assert alert_delivery.send_test(state, good)["status"] == "sent"
        stopped = _renewing(storage, name="Văn phòng UBND huyện Yên Dũng", refresh="zalo-refresh-token-revoked-" + "Rv0k" * 8)
        assert alert_delivery.send_test(state, stopped)["status"] == "failed"
        zalo.live_access.add(PASTED)
        alert_delivery.add_channel(storage, kind="zalo", name="Zalo cũ (chỉ có access token)", target=USER_ID, secret=PASTED)

    with shots.live_app(db, seed_fn=seed) as base:
        driver = shots.chromium(1366, 768)
        try:
            shots.sign_in(driver, base)
            driver.get(base + "/admin/alerts")
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "Cần cấp lại mã làm mới Zalo cho kênh «Văn phòng UBND huyện Yên Dũng»" in body
            assert "tự gia hạn token" in body and "không tự gia hạn (chỉ có access token)" in body
            for secret in (APP_SECRET, REFRESH, PASTED, *zalo.issued):
                assert secret not in driver.page_source
            shots.full_page_png(driver, shot, max_height=1500)
            assert shot.stat().st_size > 20_000
            # The new fields pass axe-core's WCAG 2.1 A/AA rules, the Zalo channels' change forms open too.
            for summary in driver.find_elements(By.CSS_SELECTOR, "td details > summary"):
                summary.click()
            found = axe.serious(axe.run_axe(driver, axe.axe_source()))
            assert not found, axe.report("/admin/alerts with Zalo channels", found)
        finally:
            driver.quit()
