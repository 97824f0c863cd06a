"""Issue 15, "Alerts that reach people": the dashboard's alerts go out through Telegram, Zalo OA and
webhook channels, tried against local fakes of each API (HTTP servers in threads on 127.0.0.1) with a
real app and database:

- an alert reaches each fake once, with the right Vietnamese text and link; officer alerts only where
  the recipients may see officer results, and unit alerts there never name an officer;
- a 5xx, a 429 or a timeout is retried with a doubling wait (attempts and the next try kept), a 4xx
  (or a Zalo error code) is not;
- three real processes running the maintenance duty at the same moment deliver each alert once;
- the hourly limit holds, and what it held goes out later as one summary;
- a webhook's HMAC-SHA256 signature verifies, written here independently of the server's code;
- secrets never come back on the page, in the CLI, in the audit log, in a recorded error or in the log;
- the dashboard's alert box names officers (for roles with officer access only);
- the schema step with data in place; a screenshot of /admin/alerts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sync_server import alert_delivery, maintenance
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS, statements
from tests.results_world import enrol, upload
from tests.server_web import add_users, login, make_app
from tests.screens import screen_path
from tests.support import BACKEND, PG_URL, ROOT, server_db_location

TOKEN = "7012345678:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
ZALO_TOKEN = "zalo-oa-access-token-" + "x7Kq" * 30
SIGNING_KEY = "khoá-ký-webhook-của-tỉnh-2026"
HOOK_PATH = "/hooks/Tk9yYW5kb20tcGF0aC1zZWNyZXQ"
BASE = "https://hailong.bacgiang.gov.vn"
OFFICER_ID, OFFICER_NAME = "cb-7201-1", "Nguyễn Thị Hoa"
SCREENSHOT = "admin_alerts.png"  # in tmp_path; docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1
NOW = datetime.now(timezone.utc)


# --- local fakes of the three APIs --------------------------------------------------------------------

class FakeApi:
    """A stand-in for the Telegram Bot API, the Zalo OA API or a webhook receiver, on 127.0.0.1.

    It records every request (path, headers, raw body, parsed JSON) and answers as the real API
    does: Telegram ``{"ok": true}`` or 401 for another token, Zalo HTTP 200 with ``error`` 0 or -216
    for another access token, a webhook 200. ``script`` forces the next answers: a status, a
    ``(status, json)`` pair, or ``"timeout"`` (no answer before the client gives up).
    """

    def __init__(self, kind: str, secret: str | None = None, delay_s: float = 0.0):
        self.kind, self.secret, self.delay_s = kind, secret, delay_s
        self.requests: list[dict] = []
        self.script: list = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "json": json.loads(body) if body else None})
                    forced = fake.script.pop(0) if fake.script else None
                time.sleep(fake.delay_s)
                if forced == "timeout":
                    time.sleep(1.5)  # the client's timeout (0.5 s) ends first
                    forced = None
                status, answer = fake.answer(self.path, self.headers, forced)
                data = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client left (a timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, headers, forced):
        if isinstance(forced, tuple):
            return forced
        if isinstance(forced, int):
            return forced, {"ok": False, "error_code": forced, "description": f"forced {forced}"}
        if self.kind == "telegram":
            if path != f"/bot{self.secret}/sendMessage":
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return 200, {"ok": True, "result": {"message_id": len(self.requests)}}
        if self.kind == "zalo":
            if path != "/v3.0/oa/message/cs" or headers.get("access_token") != self.secret:
                return 200, {"error": -216, "message": "Access token is invalid"}
            return 200, {"error": 0, "message": "Success", "data": {"message_id": f"m{len(self.requests)}"}}
        return 200, b"ok"

    def texts(self) -> list[str]:
        if self.kind == "telegram":
            return [r["json"]["text"] for r in self.requests]
        if self.kind == "zalo":
            return [r["json"]["message"]["text"] for r in self.requests]
        return [r["json"]["text"] for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fakes():
    made = {"telegram": FakeApi("telegram", TOKEN), "zalo": FakeApi("zalo", ZALO_TOKEN), "webhook": FakeApi("webhook")}
    yield made
    for fake in made.values():
        fake.stop()


def _settings(fakes, **extra) -> dict:
    return {"public_base_url": BASE, "alert_telegram_api_url": fakes["telegram"].url, "alert_zalo_api_url": fakes["zalo"].url,
            "alert_http_timeout_s": 0.5, "alert_retry_base_s": 30.0, **extra}


def _world(tmp_path, fakes, **extra):
    """An app on a fresh database: officer cb-7201-1 of Thọ Xương (7201) got four 1s in the last minutes
    (a unit alert for 7201 and an officer alert for her), and Canh Nậu (7246, district 215) four 1s too."""
    app, storage = make_app(tmp_path, **_settings(fakes, **extra))
    storage.add_officer(OFFICER_ID, "7201", OFFICER_NAME, "Công chức Tư pháp – Hộ tịch", None, None, NOW)
    upload(app, enrol(app, storage, "7201"), "7201", [({"overall": 1}, [])] * 4, officer_id=OFFICER_ID)
    upload(app, enrol(app, storage, "7246"), "7246", [({"overall": 1}, [])] * 4)
    return app, storage


def _channel(storage, kind: str, name: str, target: str, secret=None, unit=None, officers=False) -> int:
    return alert_delivery.add_channel(storage, kind=kind, name=name, target=target, secret=secret, unit_code=unit,
                                      officer_results=officers)


def _three_channels(storage, fakes) -> dict[str, int]:
    """Telegram: the province, no officer results. Zalo: the province, officer results. Webhook: district
    213 (which holds 7201, not 7246), officer results, signed."""
    return {"telegram": _channel(storage, "telegram", "Nhóm lãnh đạo tỉnh", "-1001234567890", TOKEN),
            "zalo": _channel(storage, "zalo", "Chánh Văn phòng UBND tỉnh", "8456123456789012345", ZALO_TOKEN, officers=True),
            "webhook": _channel(storage, "webhook", "Trung tâm điều hành huyện", fakes["webhook"].url + HOOK_PATH, SIGNING_KEY,
                                unit="213", officers=True)}


def _duty(app, now=None) -> dict:
    return maintenance.run(app.state.hailong.storage, app.state.hailong.settings, now=now, only=["alerts"])["alerts"]


def _log(storage) -> dict[tuple[int, str], dict]:
    return {(d["channel_id"], d["alert_key"]): d for d in storage.alert_deliveries(1000)}


def _db(storage) -> str:
    return storage.url if hasattr(storage, "url") else str(storage.path)


UNIT_TEXT = ("⚠ Hài Lòng – cảnh báo mức độ hài lòng\n"
             "Phường Thọ Xương: 4/4 phiếu chưa hài lòng trong 15 phút gần đây (100%).\n"
             "Kính đề nghị lãnh đạo đơn vị quan tâm, kiểm tra tình hình tại bộ phận một cửa và có biện pháp khắc phục kịp thời.\n"
             f"Xem kết quả: {BASE}/results/units/7201")
OFFICER_TEXT = ("⚠ Hài Lòng – cảnh báo mức độ hài lòng\n"
                f"Cán bộ {OFFICER_NAME} (Phường Thọ Xương): 4/4 phiếu chưa hài lòng trong 15 phút gần đây (100%).\n"
                "Kính đề nghị lãnh đạo đơn vị quan tâm, trao đổi với cán bộ và có biện pháp khắc phục kịp thời.\n"
                f"Xem kết quả: {BASE}/results/officers/{OFFICER_ID}")


# --- delivery to each fake ---------------------------------------------------------------------------------

def test_an_alert_reaches_each_fake_once_with_the_right_text(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    ids = _three_channels(storage, fakes)
    done = _duty(app)
    assert (done["alerts"], done["queued"], done["sent"], done["retry"], done["failed"]) == (3, 7, 7, 0, 0)
    tg, za, wh = (fakes[k] for k in ("telegram", "zalo", "webhook"))
    # Telegram (no officer results): both units' alerts, neither naming an officer.
    assert len(tg.requests) == 2 and UNIT_TEXT in tg.texts()
    assert any(t.startswith("⚠ Hài Lòng – cảnh báo mức độ hài lòng\nXã Canh Nậu: 4/4 phiếu") for t in tg.texts())
    assert all(OFFICER_NAME not in t and OFFICER_ID not in t for t in tg.texts())
    assert {r["json"]["chat_id"] for r in tg.requests} == {"-1001234567890"}
    # Zalo (officer results): both units and the officer, each once, to the follower's user id.
    assert sorted(za.texts()) == sorted([UNIT_TEXT, OFFICER_TEXT, next(t for t in tg.texts() if "Canh Nậu" in t)])
    assert {r["json"]["recipient"]["user_id"] for r in za.requests} == {"8456123456789012345"}
    assert {r["headers"]["access_token"] for r in za.requests} == {ZALO_TOKEN}
    # The webhook covers district 213: Thọ Xương and its officer, not Canh Nậu (district 215).
    assert sorted(wh.texts()) == sorted([UNIT_TEXT, OFFICER_TEXT]) and {r["path"] for r in wh.requests} == {HOOK_PATH}
    unit_body = next(r["json"] for r in wh.requests if r["json"]["alert"]["kind"] == "unit")
    assert unit_body["event"] == "alert" and unit_body["url"] == f"{BASE}/results/units/7201"
    assert unit_body["alert"] == {"kind": "unit", "unit_code": "7201", "unit_name": "Phường Thọ Xương", "n": 4,
                                  "unsatisfied": 4, "share": 1.0, "window_min": 15.0}
    officer_body = next(r["json"] for r in wh.requests if r["json"]["alert"]["kind"] == "officer")
    assert (officer_body["alert"]["officer_id"], officer_body["alert"]["officer_name"]) == (OFFICER_ID, OFFICER_NAME)
    # The log: seven deliveries, each sent at the first attempt.
    log = _log(storage)
    assert set(log) == {(ids["telegram"], "unit:7201"), (ids["telegram"], "unit:7246"), (ids["zalo"], "unit:7201"),
                        (ids["zalo"], "unit:7246"), (ids["zalo"], f"officer:{OFFICER_ID}"), (ids["webhook"], "unit:7201"),
                        (ids["webhook"], f"officer:{OFFICER_ID}")}
    assert {(d["status"], d["attempts"], d["http_status"]) for d in log.values()} == {("sent", 1, 200)}
    # The alerts go on, but nothing is sent twice: not by the next runs, nor an hour later (alert_repeat_min = 120).
    assert _duty(app)["queued"] == 0 and _duty(app, datetime.now(timezone.utc) + timedelta(minutes=1))["queued"] == 0
    assert (len(tg.requests), len(za.requests), len(wh.requests)) == (2, 3, 2)


def test_a_channel_without_officer_access_gets_no_officer_alert_and_no_officer_name(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    # The commune's own channel: its recipients are as a commune viewer, who sees no officer results.
    with pytest.raises(alert_delivery.ChannelError) as refused:
        _channel(storage, "webhook", "Xã", fakes["webhook"].url, unit="7201", officers=True)
    assert refused.value.reason == "officer_scope"
    _channel(storage, "webhook", "UBND phường Thọ Xương", fakes["webhook"].url + "/thoxuong", unit="7201")
    _channel(storage, "telegram", "Tổ công tác tỉnh", "@hailong_bacgiang", TOKEN)
    _duty(app)
    hook = fakes["webhook"].requests
    assert [r["json"]["alert"]["unit_code"] for r in hook] == ["7201"]  # only its own unit, and no officer alert
    for r in hook + fakes["telegram"].requests:
        raw = r["body"].decode()
        assert OFFICER_ID not in raw and OFFICER_NAME not in raw and "officer" not in raw
    assert len(fakes["telegram"].requests) == 2


# --- retries -------------------------------------------------------------------------------------------------

def test_5xx_429_and_a_timeout_are_retried_with_a_doubling_wait_then_it_succeeds(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes, alert_retry_base_s=10.0)
    cid = _channel(storage, "telegram", "Nhóm tỉnh", "-100200", TOKEN)
    tg = fakes["telegram"]
    tg.script = [502, "timeout", (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 75",
                                       "parameters": {"retry_after": 75}}), 503]
    start = datetime.now(timezone.utc)
    start_ms = int(start.timestamp() * 1000)
    first = _duty(app, start)
    assert (first["queued"], first["sent"], first["retry"]) == (2, 0, 2)  # 7201 (502) and 7246 (timeout)
    d = _log(storage)[(cid, "unit:7201")]
    assert (d["status"], d["attempts"], d["http_status"], d["last_error"]) == ("retry", 1, 502, "HTTP 502: forced 502")
    assert d["next_try_ms"] - start_ms == pytest.approx(10_000, abs=1500)  # alert_retry_base_s (and the real time spent)
    late = _log(storage)[(cid, "unit:7246")]
    assert late["status"] == "retry" and late["last_error"].startswith("ReadTimeout") and late["http_status"] is None
    assert _duty(app, start + timedelta(seconds=5))["sent"] == 0 and len(tg.requests) == 2  # not due yet
    second = _duty(app, start + timedelta(seconds=11))  # both due: 429 (asks 75 s) for 7201, 503 for 7246
    assert (second["sent"], second["retry"]) == (0, 2)
    d = _log(storage)[(cid, "unit:7201")]
    assert (d["attempts"], d["http_status"]) == (2, 429) and d["next_try_ms"] - (start_ms + 11_000) == pytest.approx(75_000, abs=1500)
    d2 = _log(storage)[(cid, "unit:7246")]
    assert (d2["attempts"], d2["http_status"]) == (2, 503) and d2["next_try_ms"] - (start_ms + 11_000) == pytest.approx(20_000, abs=1500)
    third = _duty(app, start + timedelta(seconds=200))
    assert (third["sent"], third["retry"], third["failed"]) == (2, 0, 0)
    assert {(d["status"], d["attempts"], d["last_error"]) for d in _log(storage).values()} == {("sent", 3, None)}
    texts = tg.texts()
    assert len(texts) == 6 and texts.count(UNIT_TEXT) == 3  # the same message each time
    assert _duty(app, start + timedelta(seconds=400))["sent"] == 0 and len(tg.requests) == 6


def test_retries_stop_after_alert_retry_max_attempts(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes, alert_retry_max=2, alert_retry_base_s=1.0)
    cid = _channel(storage, "zalo", "Zalo tỉnh", "8456123456789012345", ZALO_TOKEN)
    fakes["zalo"].script = [500] * 10
    start = datetime.now(timezone.utc)
    _duty(app, start)
    _duty(app, start + timedelta(seconds=5))
    d = _log(storage)[(cid, "unit:7201")]
    assert (d["status"], d["attempts"], d["last_error"]) == ("failed", 2, "after 2 attempts: HTTP 500: forced 500")
    _duty(app, start + timedelta(hours=1))
    assert len(fakes["zalo"].requests) == 4  # two messages, two attempts each


def test_a_4xx_or_a_zalo_error_code_is_not_retried(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    wrong_token = "7012345678:AAwrongwrongwrongwrongwrongwrong00"
    tg = _channel(storage, "telegram", "Bot sai mã", "-100300", wrong_token)
    za = _channel(storage, "zalo", "Zalo hết hạn", "8456123456789012345", "an-expired-zalo-access-token")
    wh = _channel(storage, "webhook", "Webhook sai địa chỉ", fakes["webhook"].url + "/nowhere")
    fakes["webhook"].script = [(404, {"message": "no such hook"})] * 2
    start = datetime.now(timezone.utc)
    done = _duty(app, start)
    assert (done["sent"], done["retry"], done["failed"]) == (0, 0, 6)
    log = _log(storage)
    assert (log[(tg, "unit:7201")]["status"], log[(tg, "unit:7201")]["attempts"], log[(tg, "unit:7201")]["http_status"],
            log[(tg, "unit:7201")]["last_error"]) == ("failed", 1, 401, "HTTP 401: Unauthorized")
    assert log[(za, "unit:7201")]["last_error"] == "Zalo error -216: Access token is invalid"
    assert log[(wh, "unit:7201")]["last_error"] == "HTTP 404: no such hook"
    assert all(wrong_token not in (d["last_error"] or "") for d in log.values())
    _duty(app, start + timedelta(hours=1))
    assert [len(f.requests) for f in fakes.values()] == [2, 2, 2]  # one attempt each, never again


# --- many processes ------------------------------------------------------------------------------------------

RACER = """
import json, pathlib, sys, time
from sync_server import maintenance, settings
from sync_server.storage import open_storage
db, gate = sys.argv[1], pathlib.Path(sys.argv[2])
storage = open_storage(db)
config = settings.load(db=db)
print("ready", flush=True)
while not gate.exists():
    time.sleep(0.002)
print(json.dumps(maintenance.run(storage, config, only=["alerts"])), flush=True)
"""


def test_three_processes_running_the_duty_at_once_deliver_each_alert_once(tmp_path, fakes):
    """Every race delivers each alert exactly once. The race is run again (a fresh database each time, at
    most 3) until the senders did overlap: on a loaded machine one process may start late and find
    everything sent, which proves nothing about the claims."""
    for fake in fakes.values():
        fake.delay_s = 0.5  # slow answers: the senders' calls overlap
    overlapped = []
    for attempt in range(3):
        for fake in fakes.values():
            fake.requests.clear()
        results = _race_three_senders(tmp_path / f"race{attempt}", fakes)
        overlapped.append(sum(1 for r in results if r["sent"]))
        if overlapped[-1] >= 2:
            break
    assert overlapped[-1] >= 2, f"the senders never overlapped: processes that sent, per race: {overlapped}"


def _race_three_senders(tmp_path, fakes) -> list[dict]:
    tmp_path.mkdir()
    app, storage = _world(tmp_path, fakes, alert_http_timeout_s=20.0)
    ids = _three_channels(storage, fakes)
    env = {**os.environ, **{f"HAILONG_SERVER_{k.upper()}": str(v) for k, v in _settings(fakes, alert_http_timeout_s=20.0).items()},
           "PYTHONUNBUFFERED": "1"}
    gate = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, _db(storage), str(gate)], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        gate.touch()  # all three start the duty together
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    results = [json.loads(out.strip().splitlines()[-1])["alerts"] for out, _ in outs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    assert sum(r["queued"] for r in results) == 7 and sum(r["sent"] for r in results) == 7
    assert (len(fakes["telegram"].requests), len(fakes["zalo"].requests), len(fakes["webhook"].requests)) == (2, 3, 2)
    assert len(set(fakes["zalo"].texts())) == 3  # three different messages, none twice
    log = _log(storage)
    assert len(log) == 7 and {(d["status"], d["attempts"]) for d in log.values()} == {("sent", 1)}
    assert {cid for cid, _ in log} == set(ids.values())
    storage.close()
    return results


# --- the hourly limit -------------------------------------------------------------------------------------------

def test_the_hourly_limit_holds_and_the_rest_goes_out_as_one_summary(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes, alert_channel_max_per_hour=2)
    for unit in ("7204", "7207", "7210"):
        upload(app, enrol(app, storage, unit), unit, [({"overall": 1}, [])] * 4)
    cid = _channel(storage, "telegram", "Nhóm tỉnh", "-100400", TOKEN)
    tg = fakes["telegram"]
    start = datetime.now(timezone.utc)
    done = _duty(app, start)
    # Five unit alerts (and the officer's, not for this channel); two an hour: 7201 and 7204 now, the rest held.
    assert (done["alerts"], done["queued"], done["held"], done["sent"]) == (6, 2, 3, 2)
    assert len(tg.requests) == 2
    assert _duty(app, start + timedelta(minutes=30))["summaries"] == 0 and len(tg.requests) == 2  # the hour is still full
    held = [d for d in storage.alert_deliveries(100) if d["status"] == "held"]
    assert len(held) == 3
    later = _duty(app, start + timedelta(minutes=61))
    assert (later["summaries"], later["sent"]) == (1, 1)
    summary = tg.texts()[-1]
    assert summary.startswith("Hài Lòng – tổng hợp cảnh báo\nKênh này đã nhận đủ 2 tin trong một giờ; 3 cảnh báo sau đó "
                              "được gộp vào tin này:\n• ")
    assert summary.endswith(f"Xem kết quả: {BASE}/results")
    for d in held:
        assert d["payload"]["line"] in summary
    log = storage.alert_deliveries(100)
    assert sorted(d["status"] for d in log) == ["sent", "sent", "sent", "summarised", "summarised", "summarised"]
    sid = next(d["id"] for d in log if d["kind"] == "summary")
    assert {d["summary_id"] for d in log if d["status"] == "summarised"} == {sid}
    assert _duty(app, start + timedelta(minutes=62))["sent"] == 0 and len(tg.requests) == 3
    # In every hour the channel got at most two messages: two at the start, the summary 61 minutes later.
    assert storage.alert_channel_usage(cid, int((start + timedelta(minutes=61)).timestamp() * 1000)) == 1


# --- the webhook's signature -------------------------------------------------------------------------------------

def test_the_webhook_signature_verifies_and_a_changed_body_does_not(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    _channel(storage, "webhook", "Hệ thống điều hành", fakes["webhook"].url + HOOK_PATH, SIGNING_KEY, officers=True)
    _channel(storage, "webhook", "Không ký", fakes["webhook"].url + "/plain")
    _duty(app)
    signed = [r for r in fakes["webhook"].requests if r["path"] == HOOK_PATH]
    assert len(signed) == 3
    for r in signed:
        stamp, signature = r["headers"]["X-HaiLong-Timestamp"], r["headers"]["X-HaiLong-Signature"]
        assert abs(int(stamp) - time.time()) < 120
        # What a receiver computes, written from the documented rule: HMAC-SHA256 over "<timestamp>.<body>".
        expected = "sha256=" + hmac.new(SIGNING_KEY.encode(), f"{stamp}.".encode() + r["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
        assert alert_delivery.verify(SIGNING_KEY, stamp, r["body"], signature)
        assert not alert_delivery.verify(SIGNING_KEY, stamp, r["body"].replace(b"4/4", b"1/4"), signature)
        assert not alert_delivery.verify(SIGNING_KEY, str(int(stamp) + 1), r["body"], signature)
        assert r["headers"]["X-HaiLong-Event"] == "alert" and int(r["headers"]["X-HaiLong-Delivery"]) > 0
        assert r["headers"]["Content-Type"].startswith("application/json")
    unsigned = [r for r in fakes["webhook"].requests if r["path"] == "/plain"]
    assert len(unsigned) == 2 and all("X-HaiLong-Signature" not in r["headers"] for r in unsigned)


# --- secrets ---------------------------------------------------------------------------------------------------

def test_secrets_never_appear_on_the_page_the_audit_the_cli_the_errors_or_the_log(tmp_path, fakes, caplog):
    from sync_server.indexes import ServerState

    app, storage = _world(tmp_path, fakes)
    add_users(storage)
    client, csrf = login(app, "province-admin")
    forms = ({"kind": "telegram", "name": "Nhóm tỉnh", "target": "-1001", "secret": TOKEN},
             {"kind": "zalo", "name": "Zalo tỉnh", "target": "8456123456789012345", "secret": ZALO_TOKEN},
             {"kind": "webhook", "name": "Webhook huyện", "target": fakes["webhook"].url + HOOK_PATH + "?key=abc123xyz",
              "secret": SIGNING_KEY, "unit_code": "213", "officer_results": "1"})
    for form in forms:
        resp = client.post("/admin/alerts", data={"csrf": csrf, **form})
        assert resp.status_code == 303 and resp.headers["location"] == "/admin/alerts?ok=ok_alert_channel_added"
    hidden = (TOKEN, TOKEN.split(":")[1], ZALO_TOKEN, SIGNING_KEY, HOOK_PATH, "abc123xyz")
    with caplog.at_level(logging.DEBUG):
        assert _duty(app)["sent"] == 6  # urllib3 logs each request line at DEBUG
        tg = next(c for c in storage.alert_channels() if c["kind"] == "telegram")
        # Telegram unreachable (nothing listens on port 9): the connection error names the URL, which holds the token.
        unreachable = ServerState(app.state.hailong.settings.replace(alert_telegram_api_url="http://127.0.0.1:9"), storage)
        assert alert_delivery.send_test(unreachable, tg["id"])["status"] == "retry"
    page = client.get("/admin/alerts").text
    assert page.count("đã đặt") == 3 and f"{fakes['webhook'].url}/…" in page
    errors = [d["last_error"] or "" for d in storage.alert_deliveries(100)]
    assert any(e.startswith("ConnectionError") and "/bot***/sendMessage" in e for e in errors)
    audit = json.dumps(storage.audit_log(), ensure_ascii=False)
    assert "alert_channel.add" in audit and "alert_channel.test" in audit
    listed = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", _db(storage), "alert-channels", "list", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert len(json.loads(listed)) == 3
    for text in (page, client.get("/admin/audit").text, audit, listed, caplog.text, *errors):
        for secret in hidden:
            assert secret not in text
    assert '"POST /bot***/sendMessage HTTP/1.1" 200' in caplog.text and '"POST /… HTTP/1.1" 200' in caplog.text


# --- the page and the CLI -----------------------------------------------------------------------------------

def test_the_page_adds_tests_switches_and_removes_a_channel_with_confirmation(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    add_users(storage)
    client, csrf = login(app, "province-admin")
    assert client.post("/admin/alerts", data={"csrf": csrf, "kind": "telegram", "name": "Nhóm tỉnh", "target": "-1001",
                                              "secret": "not-a-token"}).status_code == 400
    assert client.post("/admin/alerts", data={"csrf": csrf, "kind": "telegram", "name": "Nhóm tỉnh", "target": "-1001",
                                              "secret": TOKEN}).status_code == 303
    cid = storage.alert_channels()[0]["id"]
    resp = client.post("/admin/alerts/test", data={"csrf": csrf, "channel": str(cid)})
    assert resp.status_code == 303 and resp.headers["location"].endswith("ok=ok_alert_test_sent")
    assert fakes["telegram"].texts()[-1].startswith("Hài Lòng – tin nhắn thử của kênh «Nhóm tỉnh»")
    fakes["telegram"].script = [(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})]
    failed = client.post("/admin/alerts/test", data={"csrf": csrf, "channel": str(cid)})
    assert failed.status_code == 400 and "Bad Request: chat not found" in failed.text
    assert client.post("/admin/alerts/edit", data={"csrf": csrf, "channel": str(cid), "active": "0"}).status_code == 303
    assert storage.alert_channel(cid)["active"] is False and _duty(app)["channels"] == 0
    assert client.post("/admin/alerts/edit", data={"csrf": csrf, "channel": str(cid), "active": "1"}).status_code == 303
    # Removing needs the confirmation box; then the channel goes, its log stays.
    assert client.post("/admin/alerts/remove", data={"csrf": csrf, "channel": str(cid)}).status_code == 400
    assert storage.alert_channel(cid)["removed_at"] is None
    assert client.post("/admin/alerts/remove", data={"csrf": csrf, "channel": str(cid), "confirm": "1"}).status_code == 303
    assert storage.alert_channels() == [] and len(storage.alert_deliveries(10)) == 2
    page = client.get("/admin/alerts").text
    assert "Tin nhắn thử" in page and "Bad Request: chat not found" in page and "không gửi được" in page
    # Only the province admin: the analyst and the viewers are refused.
    for role in ("province-analyst", "district-viewer", "commune-viewer"):
        other, _ = login(app, role)
        assert other.get("/admin/alerts").status_code == 403


def test_the_cli_adds_lists_tests_sends_and_removes(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    env = {**os.environ, "HAILONG_SERVER_ALERT_ZALO_API_URL": fakes["zalo"].url, "HAILONG_SERVER_PUBLIC_BASE_URL": BASE}

    def _cli(storage, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", _db(storage), *args], cwd=ROOT, input=stdin,
                              capture_output=True, text=True, timeout=60, env=env)

    added = _cli(storage, "alert-channels", "add", "--kind", "zalo", "--name", "Zalo Văn phòng", "--target", "8456123456789012345",
                 "--officer-results", "--secret-stdin", stdin=ZALO_TOKEN + "\n")
    assert added.returncode == 0, added.stderr
    cid = int(added.stdout.strip().splitlines()[-1])
    listed = _cli(storage, "alert-channels", "list")
    assert "Zalo Văn phòng" in listed.stdout and "secret set" in listed.stdout and ZALO_TOKEN not in listed.stdout
    refused = _cli(storage, "alert-channels", "add", "--kind", "zalo", "--name", "Không token", "--target", "1234567")
    assert refused.returncode == 2 and "access token" in refused.stderr
    tested = _cli(storage, "alert-channels", "test", "--id", str(cid))
    assert tested.returncode == 0 and "test message: sent" in tested.stdout, tested.stderr
    sent = _cli(storage, "alert-channels", "send")
    assert json.loads(sent.stdout)["sent"] == 3, sent.stderr  # 7201, 7246 and the officer
    again = _cli(storage, "maintain", "--only", "alerts", "--json")
    assert json.loads(again.stdout)["alerts"]["sent"] == 0, again.stderr
    assert len(fakes["zalo"].requests) == 4
    log = _cli(storage, "alert-channels", "log", "--json")
    assert sorted(r["status"] for r in json.loads(log.stdout)) == ["sent"] * 4
    renewed = _cli(storage, "alert-channels", "edit", "--id", str(cid), "--secret-stdin", stdin="renewed-zalo-access-token\n")
    assert renewed.returncode == 0 and storage.alert_channel_secret(cid) == "renewed-zalo-access-token"
    assert _cli(storage, "alert-channels", "remove", "--id", str(cid)).returncode == 0
    assert storage.alert_channels() == [] and storage.alert_channel_secret(cid) is None  # the secret goes with it


# --- the dashboard's alert box -------------------------------------------------------------------------------

ALERT_BOX = re.compile(r'<div class="card alert"><h2>⚠.*?</div>', re.S)


def test_the_alert_box_names_officers_for_roles_with_officer_access_only(tmp_path, fakes):
    app, storage = _world(tmp_path, fakes)
    add_users(storage)
    for role, sees in (("province-admin", True), ("district-viewer", True), ("commune-viewer", False)):
        client, _ = login(app, role)
        page = client.get("/results/units/7201")
        assert page.status_code == 200
        box = ALERT_BOX.search(page.text).group(0)
        assert "Phường Thọ Xương" in box and "4/4" in box
        assert (f">{OFFICER_NAME}</a> (Phường Thọ Xương)" in box) is sees, role
        assert OFFICER_ID not in re.sub(r'href="[^"]*"', "", box)  # her id only inside the link, never shown
        if not sees:
            assert OFFICER_NAME not in page.text and "Cán bộ" not in box


# --- the schema step with data in place -----------------------------------------------------------------------

STEP = next(i for i, step in enumerate(MIGRATIONS, 1) if any("CREATE TABLE alert_channels" in str(s) for s in step))


def test_the_alerts_step_upgrades_a_database_with_answers_in_place(tmp_path):
    before = STEP - 1
    if BACKEND == "postgres":
        import uuid

        import psycopg

        from sync_server.storage.postgres import PGConnection, translate_ddl

        name = "t_alerts_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        location = PG_URL.rpartition("/")[0] + "/" + name
        conn = PGConnection(psycopg.connect(location, autocommit=True))
        for step in MIGRATIONS[:before]:
            for statement in statements(step, "postgres"):
                conn.execute(translate_ddl(statement))
        conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (before,))
    else:
        location = tmp_path / "before_alerts.sqlite3"
        conn = sqlite3.connect(str(location), isolation_level=None)
        for step in MIGRATIONS[:before]:
            for statement in statements(step, "sqlite"):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {before}")
    conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES ('24', 'Tỉnh Bắc Giang', 'province', NULL, '2023-01-01')")
    conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES ('7201', 'Phường Thọ Xương', 'commune', '24', '2023-01-01')")
    for code, name, level, parent in (("24", "Tỉnh Bắc Giang", "province", None), ("7201", "Phường Thọ Xương", "commune", "24")):
        conn.execute("INSERT INTO unit_versions (code, valid_from, name, level, parent_code) VALUES (?, '2023-01-01', ?, ?, ?)",
                     (code, name, level, parent))
    stamp = NOW.isoformat()
    ms = int(NOW.timestamp() * 1000)
    conn.execute("INSERT INTO responses (id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
                 "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect, placed_ms) "
                 "VALUES ('00000000-0000-7000-8000-0000000000a1', 'h1', NULL, ?, '7201', NULL, 'bg-friendly-gov', 1, 'kiosk', 1, "
                 "?, ?, '{\"overall\":1}', '[]', 0, ?)", (stamp, stamp, ms, ms))
    conn.execute("INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, NULL, 'quantri', "
                 "'units.import', 'x', NULL, NULL)", (stamp,))
    conn.close()
    storage = open_storage(location)  # migrates to the last step
    try:
        assert storage.schema_version() == len(MIGRATIONS)
        assert storage.response_count() == 1 and storage.audit_log()[-1]["action"] == "units.import"
        assert storage.alert_channels() == [] and storage.alert_deliveries() == []
        cid = alert_delivery.add_channel(storage, kind="webhook", name="Sau nâng cấp", target="https://example.org/hook")
        queued = storage.queue_alert_deliveries([{"channel_id": cid, "alert_key": "unit:7201", "window_no": 1, "kind": "alert",
                                                  "unit_code": "7201", "payload": {"text": "x", "line": "x"}}], ms, 60_000, 5)
        assert queued == {"queued": 1, "held": 0, "skipped": 0}
        # The unique key: the same channel, alert and window cannot be queued twice, even past the repeat check.
        again = storage.queue_alert_deliveries([{"channel_id": cid, "alert_key": "unit:7201", "window_no": 1, "kind": "alert",
                                                 "unit_code": "7201", "payload": {"text": "x", "line": "x"}}], ms + 120_000, 60_000, 5)
        assert again == {"queued": 0, "held": 0, "skipped": 1} and len(storage.alert_deliveries()) == 1
    finally:
        storage.close()
    reopened = open_storage(location)
    try:
        assert reopened.schema_version() == len(MIGRATIONS) and len(reopened.alert_channels()) == 1
    finally:
        reopened.close()


# --- a screenshot of /admin/alerts --------------------------------------------------------------------------

@pytest.mark.sqlite_only
def test_screenshot_of_the_alerts_page(tmp_path, fakes, monkeypatch):
    from tools import server_screenshots as shots

    if not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    from hailong_core.questionnaire import parse_questionnaire
    from sync_server import security
    from sync_server import settings as server_settings
    from sync_server.indexes import ServerState
    from sync_server.ingest import ingest
    from tests.records import make_record

    monkeypatch.setenv("HAILONG_SERVER_PUBLIC_BASE_URL", BASE)
    db = server_db_location(tmp_path)

    def seed(storage) -> None:
        shots.seed(storage)
        state = ServerState(server_settings.load(db=str(db), **_settings(fakes)), storage)
        questionnaires = {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
        created = datetime.now().astimezone() - timedelta(minutes=4)
        for i, (token, unit) in enumerate((("tok0", "7201"), ("tok3", "7246"))):  # the demo's kiosks
            device = storage.device_by_token(security.digest(token))
            records = [make_record(100 + j, unit, {"overall": 1}, created=created + timedelta(seconds=j),
                                   officer_id="cb-demo0" if unit == "7201" else None) for j in range(5)]
            stored = ingest(storage, device, {"responses": records}, max_items=100, skew_s=300, questionnaires=questionnaires)
            assert {r["status"] for r in stored["results"]} == {"accepted"}, stored
        _channel(storage, "telegram", "Nhóm lãnh đạo UBND tỉnh", "-1001876543210", TOKEN)
        _channel(storage, "zalo", "Chánh Văn phòng UBND tỉnh", "8456123456789012345", ZALO_TOKEN, officers=True)
        _channel(storage, "webhook", "Trung tâm IOC tỉnh", fakes["webhook"].url + HOOK_PATH, SIGNING_KEY, officers=True)
        _channel(storage, "telegram", "UBND phường Bắc Giang", "-1001555000111", TOKEN, unit="7210")
        _channel(storage, "telegram", "Nhóm cũ (bot đã thu hồi)", "-1001555000222", "7012345678:AAotherbototherbototherbot0")
        fakes["webhook"].script = [503]
        assert maintenance.run(storage, state.settings, only=["alerts"])["alerts"]["sent"] == 7  # the duty, as the schedule runs it

    with shots.live_app(db, seed_fn=seed) as base:
        driver = shots.chromium(1366, 700)
        try:
            shots.sign_in(driver, base)
            driver.get(base + "/admin/alerts")
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "Nhóm lãnh đạo UBND tỉnh" in body and "đã đặt" in body and "sẽ gửi lại" in body
            assert "không gửi được" in body and "HTTP 401: Unauthorized" in body  # the old bot's token is not the fake's
            assert TOKEN not in driver.page_source and ZALO_TOKEN not in driver.page_source
            shot = screen_path(tmp_path, SCREENSHOT)
            shots.full_page_png(driver, shot, max_height=3000)
            assert shot.stat().st_size > 20_000
        finally:
            driver.quit()
