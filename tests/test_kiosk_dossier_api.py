"""The kiosk's local API for counter systems (issue 14): "dossier X was just returned at this
counter" ties exactly the next rating started here, within ``dossier_link_s``.

Real HTTP to the API on 127.0.0.1 (started from the kiosk's settings as the app starts it), the
real window offscreen and real store files; the monotonic clock is injected, so the link's
expiry is a move of the clock, not a wait.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest
import requests
from PySide6.QtCore import Qt

from hailong_core.questionnaire import load_default_questionnaire
from kiosk import local_api
from kiosk import settings as kiosk_settings
from kiosk.answering import Answering
from kiosk.app import build
from kiosk.store import Store
from tests.records import Clock
from tests.support import free_port

ICT = timezone(timedelta(hours=7))
TOKEN = "counter-system-token-0123456789"
CODE = "000.00.24.H06-250701-0001"


class Mono:
    def __init__(self, start: float = 5000.0):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def config(**settings) -> dict:
    return {"unit": {"code": "7201", "name": "UBND phường Bắc Giang", "level": "commune", "parent_code": None},
            "officers": [], "questionnaire": load_default_questionnaire().to_dict(), "settings": settings}


def records(store: Store) -> list[dict]:
    return store.read(lambda c: [json.loads(r[0]) for r in c.execute("SELECT record FROM responses ORDER BY seq")])


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite3", clock=Clock(datetime(2026, 12, 1, 9, 0, tzinfo=ICT)))
    s.set_meta(unit_code="7201", config=config(dossier_link_s=300))
    yield s
    s.close()


def settings_with_api(tmp_path, **overrides):
    return kiosk_settings.load(tmp_path, local_api_port=free_port(), local_api_token=TOKEN, thank_you_s=30, **overrides)


@pytest.fixture
def kiosk(qtbot, tmp_path, store):
    """The window and the local API, built and started as :func:`kiosk.app.run` does."""
    mono = Mono()
    settings = settings_with_api(tmp_path)
    win, worker = build(store, settings, monotonic=mono)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    api = local_api.serve(settings, win.answering)
    assert api is not None
    yield win, mono, api
    api.stop()
    worker.stop()


def call(api, path: str, body=None, *, token: str | None = TOKEN, method: str | None = None, raw: bytes | None = None,
         headers: dict | None = None) -> requests.Response:
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if raw is None and body is not None:
        raw = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    return requests.request(method or ("POST" if raw is not None else "GET"), api.url + path, data=raw,
                            headers=hdrs, timeout=5)


def error_code(resp: requests.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def tap_face(qtbot, win, mono, value: int) -> str | None:
    """A citizen taps face ``value``; returns the id of the answer it started."""
    mono.advance(1)
    started = []
    win.sig_answer_started.connect(started.append)
    win.sig_rating_saved.connect(started.append)
    try:
        qtbot.mouseClick(next(f for f in win.start_screen.faces() if f.value == value), Qt.MouseButton.LeftButton)
    finally:
        win.sig_answer_started.disconnect(started.append)
        win.sig_rating_saved.disconnect(started.append)
    return started[0] if started else None


def test_the_local_api_ties_exactly_the_next_rating(qtbot, kiosk, store):
    win, mono, api = kiosk
    before = tap_face(qtbot, win, mono, 5)  # rated before the counter's call
    win.show_start()
    under_way = tap_face(qtbot, win, mono, 1)  # started before the call, its follow-ups still open
    assert win.current_screen() is win.followup_screen

    resp = call(api, "/v1/dossier", {"dossier_code": CODE.lower(), "counter": "3"})
    assert resp.status_code == 202 and resp.json() == {"status": "waiting", "expires_in_s": 300}
    status = call(api, "/v1/status")
    assert status.status_code == 200 and status.json() == {"waiting": True, "expires_in_s": 300}
    assert CODE not in status.text and CODE.lower() not in status.text  # whether, never which

    mono.advance(1)
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000):
        qtbot.mouseClick(win.followup_screen.done_button, Qt.MouseButton.LeftButton)
    win.show_start()
    tied = tap_face(qtbot, win, mono, 4)
    win.show_start()
    after = tap_face(qtbot, win, mono, 5)

    by_id = {r["id"]: r for r in records(store)}
    assert "dossier_code" not in by_id[before]
    assert "dossier_code" not in by_id[under_way]
    assert by_id[tied]["dossier_code"] == CODE
    assert "dossier_code" not in by_id[after]
    assert call(api, "/v1/status").json() == {"waiting": False, "expires_in_s": None}
    assert not any(CODE in w.text() for w in win.findChildren(type(win.start_screen.dossier_label)) if w.isVisible())


def test_an_expired_link_ties_nothing_and_a_newer_call_replaces_a_waiting_one(qtbot, kiosk, store):
    win, mono, api = kiosk
    assert call(api, "/v1/dossier", {"dossier_code": CODE}).status_code == 202
    mono.advance(299)
    assert call(api, "/v1/status").json() == {"waiting": True, "expires_in_s": 1}
    mono.advance(2)  # 301 s: nobody rated in time
    assert call(api, "/v1/status").json()["waiting"] is False
    late = tap_face(qtbot, win, mono, 5)
    assert "dossier_code" not in store.get_record(late)["record"]

    win.show_start()
    assert call(api, "/v1/dossier", {"dossier_code": "H24.22-250701-000001"}).status_code == 202
    assert call(api, "/v1/dossier", {"dossier_code": "H24.22-250701-000002", "counter": "Quầy 2"}).status_code == 202
    tied = tap_face(qtbot, win, mono, 5)
    win.show_start()
    nxt = tap_face(qtbot, win, mono, 5)
    assert store.get_record(tied)["record"]["dossier_code"] == "H24.22-250701-000002"
    assert "dossier_code" not in store.get_record(nxt)["record"]


# --- refusals: real HTTP, the one error shape -------------------------------------------------------

@pytest.fixture
def api(tmp_path, store):
    """The API alone, on the answering logic (no window): for the refusals."""
    answering = Answering(store, clock=Clock(datetime(2026, 12, 1, 9, 0, tzinfo=ICT)), monotonic=Mono())
    answering.load()
    server = local_api.serve(settings_with_api(tmp_path), answering)
    assert server is not None
    yield server
    server.stop()


def test_a_wrong_or_missing_token_is_401(api):
    assert error_code(call(api, "/v1/dossier", {"dossier_code": CODE}, token="not-the-token-at-all-000"), 401) == "invalid_token"
    resp = call(api, "/v1/dossier", {"dossier_code": CODE}, token=None)
    assert error_code(resp, 401) == "missing_token" and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_code(call(api, "/v1/status", token="x"), 401) == "invalid_token"
    assert api.answering.dossier_waiting("counter") is None  # nothing was announced


@pytest.mark.parametrize("raw, code", [
    (b"{not json", "invalid_json"),
    (b'["H24"]', "invalid_body"),
    (json.dumps({"dossier_code": CODE, "officer": "cb-01"}).encode(), "unknown_field"),
    (json.dumps({"counter": "3"}).encode(), "missing_field"),
    (json.dumps({"dossier_code": 12345}).encode(), "invalid_field"),
    (json.dumps({"dossier_code": "has spaces in it"}).encode(), "invalid_field"),
    (json.dumps({"dossier_code": CODE, "counter": ""}).encode(), "invalid_field"),
])
def test_a_bad_body_is_400_in_the_one_shape(api, raw, code):
    resp = call(api, "/v1/dossier", raw=raw, headers={"Content-Type": "application/json"})
    assert error_code(resp, 400) == code
    if code == "unknown_field":
        assert "officer" in resp.json()["error"]["message"]
    assert api.answering.dossier_waiting("counter") is None


def test_a_code_outside_the_units_pattern_is_400(api, store):
    store.set_meta(config=config(dossier_pattern=r"H24\.\d{2}-\d{6}-\d{6}"))
    api.answering.load()
    assert error_code(call(api, "/v1/dossier", {"dossier_code": CODE}), 400) == "pattern_mismatch"
    assert call(api, "/v1/dossier", {"dossier_code": "h24.22-250701-000123"}).status_code == 202


def test_a_large_body_is_413_and_other_paths_and_methods_are_refused(api):
    big = json.dumps({"dossier_code": CODE, "counter": "x" * 10_000}).encode()
    assert error_code(call(api, "/v1/dossier", raw=big), 413) == "body_too_large"
    assert error_code(call(api, "/v1/nothing"), 404) == "not_found"
    resp = call(api, "/v1/dossier", method="GET")
    assert error_code(resp, 405) == "method_not_allowed" and resp.headers["Allow"] == "POST"
    assert error_code(call(api, "/v1/status", method="DELETE"), 405) == "method_not_allowed"
    assert error_code(call(api, "/v1/dossier", method="BREW"), 405) == "method_not_allowed"


def test_a_post_without_a_length_is_refused(api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(f"POST /v1/dossier HTTP/1.1\r\nHost: kiosk\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(4096):  # the kiosk closes the connection after its answer
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.0 411") and '"length_required"' in answer


def test_peers_outside_loopback_and_the_private_lan_are_403(api, monkeypatch):
    for host in ("127.0.0.1", "10.24.1.7", "172.16.0.9", "192.168.1.20", "::1", "fd12::7", "::ffff:192.168.1.20"):
        assert local_api.lan_peer(host), host
    for host in ("8.8.8.8", "100.64.0.1", "2001:4860::8888", "::ffff:8.8.8.8", "garbage"):
        assert not local_api.lan_peer(host), host
    # The test's peer is 127.0.0.1: script it as a public address, at the network boundary.
    monkeypatch.setattr(local_api, "lan_peer", lambda host: False)
    assert error_code(call(api, "/v1/dossier", {"dossier_code": CODE}), 403) == "forbidden_peer"
    assert api.answering.dossier_waiting("counter") is None


def test_the_api_is_off_by_default_and_refuses_to_start_without_a_token(tmp_path, store, caplog):
    answering = Answering(store, clock=Clock(datetime(2026, 12, 1, 9, 0, tzinfo=ICT)))
    assert local_api.serve(kiosk_settings.load(tmp_path), answering) is None
    port = free_port()
    with caplog.at_level(logging.ERROR, logger="kiosk.local_api"):
        assert local_api.serve(kiosk_settings.load(tmp_path, local_api_port=port), answering) is None
        assert local_api.serve(kiosk_settings.load(tmp_path, local_api_port=port, local_api_token="short"), answering) is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all("local API NOT started" in m and "local_api_token" in m for m in messages)
    assert "missing" in messages[0] and "too short" in messages[1]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v1/status", timeout=2)
