"""The kiosk's sync against a real server and against scripted failures at the network boundary.

Real parts: the kiosk store on a SQLite file in tmp_path, the real sync client and service, and a
real ``hailong-server serve`` child process. What is scripted: a server SIGKILLed at a chosen
moment (a requests adapter, i.e. the network boundary), captive portals and a busy server (tiny
local HTTP servers).
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests.adapters import HTTPAdapter

from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import Backoff, ServerApi, SyncClient, SyncService, SyncTemporaryError, enroll
from tests.records import QREF, UPLOAD, ids_on_server_more_than_once, server_db, wait_until


def _settings(tmp_path, **overrides):
    # Short connect timeout: a dead server must fail fast (connection refused is immediate anyway).
    return kiosk_settings.load(tmp_path, connect_timeout_s=2.0, read_timeout_s=20.0, **overrides)


def _record_many(store: Store, n: int, unit: str = "7201") -> list[str]:
    ids = []
    for i in range(n):
        rec = store.record_response(unit_code=unit, questionnaire=QREF, answers={"overall": 1 + i % 5, "skills": 1 + (i * 7) % 5})
        ids.append(rec["id"])
    return ids


def _drain_rounds(service: SyncService, store: Store, timeout: float = 60.0) -> list[dict]:
    """Run rounds (as the worker would, without waiting the delays) until nothing is pending."""
    reports = []

    def done():
        reports.append(service.run_round())
        assert reports[-1]["error"] is None, reports[-1]
        return store.counts()["pending"] == 0

    wait_until(done, timeout=timeout, interval=0, what="the kiosk to drain")
    return reports


def _server_ids(server) -> set[str]:
    conn = server_db(server)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM responses")}
    finally:
        conn.close()


# --- (a) offline, then back ----------------------------------------------------------------------

def test_thousand_answers_while_server_down_then_drain(server, tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")
    server.kill()

    ids = _record_many(store, 1000)
    assert store.counts() == {"pending": 1000, "sent": 0, "kept_aside": 0}

    # The client raises the temporary error; the service reports it, keeps it, and marks nothing sent.
    api = ServerApi(server.url, store.get_meta("token"), timeout=(2.0, 5.0))
    with pytest.raises(SyncTemporaryError):
        SyncClient(store, api).drain()
    service = SyncService(store, _settings(tmp_path), rng=lambda: 0.5)
    report = service.run_round(force=True)
    assert report["error"] and report["sent"] == 0
    assert report["delay"] > 0
    assert store.counts() == {"pending": 1000, "sent": 0, "kept_aside": 0}
    assert store.status()["last_error"] == report["error"]

    server.start()
    _drain_rounds(service, store)
    assert store.counts() == {"pending": 0, "sent": 1000, "kept_aside": 0}
    assert server.stats() == {"7201": 1000}
    assert _server_ids(server) == set(ids)
    assert ids_on_server_more_than_once(server) == []


# --- (b) the server dies in the middle of an upload ------------------------------------------------

class KillServerMidUpload(HTTPAdapter):
    """At the ``at``-th upload, SIGKILL the server and lose the answer (a network-boundary script).

    ``after_answer``: the server committed and answered, then died before the kiosk read it (the
    kiosk must resend, and the resend must be a harmless duplicate). ``after_send``: the request's
    bytes are written on a raw socket and the server is killed at once, before it answers; it may
    or may not have committed them.
    """

    def __init__(self, server, at: int, mode: str):
        super().__init__()
        self.server, self.at, self.mode = server, at, mode
        self.uploads = 0
        self.fired = False

    def send(self, request, **kwargs):
        if request.path_url == UPLOAD and not self.fired:
            self.uploads += 1
            if self.uploads == self.at:
                self.fired = True
                if self.mode == "after_answer":
                    resp = super().send(request, **kwargs)
                    assert resp.status_code == 200, resp.text
                else:
                    self._write_raw(request)
                self.server.kill()
                raise requests.ConnectionError("scripted: server killed before its answer was read")
        return super().send(request, **kwargs)

    def _write_raw(self, request) -> None:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        head = [f"{request.method} {request.path_url} HTTP/1.1", f"Host: 127.0.0.1:{self.server.port}"]
        head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        finally:
            sock.close()


@pytest.mark.parametrize("mode", ["after_answer", "after_send"])
def test_server_killed_mid_upload_then_restarted(server, tmp_path, mode):
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, server.url, server.enroll_code("7201"))
    ids = _record_many(store, 600)

    session = requests.Session()
    adapter = KillServerMidUpload(server, at=3, mode=mode)
    session.mount("http://", adapter)
    api = ServerApi(server.url, store.get_meta("token"), session=session, timeout=(2.0, 20.0))
    client = SyncClient(store, api, batch_size=100)
    with pytest.raises(SyncTemporaryError):
        client.drain()
    assert adapter.fired and server.proc.poll() is not None
    # Two batches were acknowledged before the kill; the third's rows stay pending on the kiosk.
    assert store.counts() == {"pending": 400, "sent": 200, "kept_aside": 0}
    on_server = _server_ids(server)
    if mode == "after_answer":
        assert len(on_server) == 300  # the third batch committed: its resend must be a duplicate
    else:
        assert len(on_server) in (200, 300)  # either it committed before the kill or not at all

    server.start()
    service = SyncService(store, _settings(tmp_path, batch_size=100))
    _drain_rounds(service, store)
    assert store.counts() == {"pending": 0, "sent": 600, "kept_aside": 0}
    assert _server_ids(server) == set(ids)
    assert sum(server.stats().values()) == 600
    assert ids_on_server_more_than_once(server) == []


# --- (c) captive portals and other strangers -----------------------------------------------------

class _Stub(BaseHTTPRequestHandler):
    status = 200
    ctype = "text/html; charset=utf-8"
    body = b"<html><body>Welcome to the free Wi-Fi. Please log in.</body></html>"
    headers_out: dict = {}

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("Content-Type", self.ctype)
        self.send_header("Content-Length", str(len(self.body)))
        for k, v in self.headers_out.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    """Start a local HTTP server answering with the given handler class; yield its URL."""
    servers = []

    def start(handler_cls) -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _stub_class(**attrs):
    return type("Stub", (_Stub,), attrs)


def _pointed_store(tmp_path, url: str, n: int = 5) -> Store:
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(server_url=url, token="hl1_not-a-real-token", device_id="d", unit_code="7201")
    _record_many(store, n)
    return store


@pytest.mark.parametrize("kind", ["html", "json_not_ours", "redirect", "html_400", "html_413"])
def test_captive_portal_marks_nothing_sent(tmp_path, stub, kind):
    """Whatever answers that is not our server: nothing sent, nothing set aside, the error kept."""
    handler = {
        "html": _stub_class(),
        "json_not_ours": _stub_class(ctype="application/json", body=b'{"hello": 1}'),
        "redirect": _stub_class(status=302, headers_out={"Location": "http://portal.example/login"}),
        # Portals and proxies also answer 4xx pages; those are no verdict on our answers.
        "html_400": _stub_class(status=400, body=b"<html>Bad Request</html>"),
        "html_413": _stub_class(status=413, body=b"<html>413 Request Entity Too Large</html>"),
    }[kind]
    store = _pointed_store(tmp_path, stub(handler))
    report = SyncService(store, _settings(tmp_path)).run_round(force=True)
    assert report["error"], report
    assert report["sent"] == 0
    assert store.counts() == {"pending": 5, "sent": 0, "kept_aside": 0}
    status = store.status()
    assert status["last_error"] == report["error"] and status["last_error_at"]
    expected = {"html": "not our server's JSON", "json_not_ours": "not our server", "redirect": "redirected (302)",
                "html_400": "not our server", "html_413": "not our server"}[kind]
    assert expected in status["last_error"]


# --- (d) backoff ---------------------------------------------------------------------------------

def test_retry_after_is_honoured(tmp_path, stub):
    busy = _stub_class(status=503, ctype="application/json", headers_out={"Retry-After": "120"},
                       body=json.dumps({"error": {"code": "busy", "message": "try later"}}).encode())
    store = _pointed_store(tmp_path, stub(busy))
    service = SyncService(store, _settings(tmp_path, backoff_base_s=2.0, backoff_max_s=600.0), rng=lambda: 0.0)
    report = service.run_round(force=True)
    assert "503" in report["error"]
    assert report["delay"] >= 120
    assert store.counts()["pending"] == 5


def test_exponential_backoff_without_retry_after(tmp_path, stub):
    busy = _stub_class(status=503, ctype="text/plain", body=b"busy")
    url = stub(busy)
    for r, bounds in ((0.0, lambda c: c / 2), (0.999999, lambda c: c)):
        store_dir = tmp_path / f"rng{r}"
        store = _pointed_store(store_dir, url)
        service = SyncService(store, _settings(store_dir, backoff_base_s=2.0, backoff_max_s=60.0), rng=lambda r=r: r)
        delays = [service.run_round()["delay"] for _ in range(8)]
        ceilings = [min(60.0, 2.0 * 2 ** i) for i in range(8)]
        for delay, ceiling in zip(delays, ceilings):
            assert ceiling / 2 <= delay <= ceiling
            assert delay == pytest.approx(bounds(ceiling), rel=1e-5)
        assert delays[:5] == sorted(delays[:5]) and delays[4] > delays[0] * 8
        assert store.counts()["pending"] == 5


def test_backoff_jitter_bounds_and_reset():
    draws = iter([0.0, 1.0, 0.5, 0.25, 0.75] * 10)
    backoff = Backoff(base=1.0, maximum=10.0, rng=lambda: next(draws))
    delays = [backoff.failure() for _ in range(7)]
    assert delays == [0.5, 2.0, 3.0, 5.0, 8.75, 5.0, 10.0]  # ceilings 1,2,4,8,10,10,10 (capped)
    backoff.success()
    assert backoff.failure() == pytest.approx(0.75)  # back to the first ceiling (1.0), draw 0.5
    # Retry-After wins when longer, but never past the maximum.
    assert backoff.failure(retry_after=7.0) == 7.0
    assert backoff.failure(retry_after=3600.0) == 10.0
