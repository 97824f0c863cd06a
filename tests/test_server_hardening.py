"""Hardening, tried the way an attacker (or a failing database) would: login throttling that never
locks the owner out, security headers on every answer, a JSON depth cap before validation, and 503
with Retry-After while the database is down (issue 11, items 5, 6, 7 and 13)."""

from __future__ import annotations

import gzip
import json
import logging
import re
import sqlite3
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from sync_server import accounts, bodies, security
from sync_server import settings as server_settings
from sync_server.app import create_app
from sync_server.errors import CATALOGUE
from sync_server.storage import open_storage
from tests.server_web import CSRF_RE, PASSWORD, make_app
from tests.support import BACKEND, ROOT, free_port, server_db_location

ADMIN = "province-admin"
WINDOW_S = 15 * 60
# Argon2id with the cheapest parameters: verification reads them from the hash, so the attack
# tests below can try a few hundred passwords in seconds. Production hashes use the defaults.
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def _add_admin(storage, username: str = ADMIN) -> None:
    storage.add_user(username, CHEAP_HASH, "province_admin", None, datetime.now(timezone.utc))


@pytest.fixture
def site(tmp_path):
    # No wrong-password delay here: the many-address attacks below would otherwise take minutes;
    # the delay has its own tests.
    app, storage = make_app(tmp_path, login_max_failures=5, login_address_max_failures=20, login_delay_max_s=0)
    _add_admin(storage)
    yield app, storage
    storage.close()


def _client(app, address: str = "testclient", https: bool = False) -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 50000),
                      base_url="https://testserver" if https else "http://testserver")


def _try_login(client: TestClient, username: str, password: str):
    token = CSRF_RE.search(client.get("/login").text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf": token, "next": "/"})


def _device_token(storage, unit: str = "7201") -> str:
    now = datetime.now(timezone.utc)
    code = security.new_token()[:16]
    storage.create_enroll_code(unit, security.digest(code), now + timedelta(hours=1))
    token = security.new_token()
    storage.redeem_enroll_code(security.digest(code), now, "dev-" + code[-8:], security.digest(token), "test")
    return token


# --- item 5: login throttling ----------------------------------------------------------------------

def test_attack_from_many_addresses_never_locks_the_admin_out(site):
    app, _ = site
    # 3 wrong passwords from each of 12 addresses (36 failures within minutes): none of those
    # addresses is refused, since none failed 5 times itself.
    for n in range(12):
        attacker = _client(app, f"203.0.113.{n}")
        for guess in range(3):
            assert _try_login(attacker, ADMIN, f"guess-{n}-{guess}").status_code == 401
    # The real admin, from the office, with the right password: in at once.
    office = _client(app, "10.24.0.5")
    resp = _try_login(office, ADMIN, PASSWORD)
    assert resp.status_code == 303 and "hl_session" in resp.cookies
    assert office.get("/").status_code == 200


def test_hours_of_attacks_with_a_simulated_clock(tmp_path):
    """For simulated hours, 6 wrong passwords every 15 minutes from rotating addresses; after each
    burst the owner's right password works from their own address (injected clock, no sleeping)."""
    storage = open_storage(server_db_location(tmp_path))
    _add_admin(storage, "admin")
    limits = dict(max_failures=5, window_s=WINDOW_S, address_max_failures=20)
    start = 1_800_000_000_000
    for quarter in range(32):  # 8 hours
        now = start + quarter * WINDOW_S * 1000
        for k in range(6):
            address = f"198.51.100.{(quarter * 6 + k) % 250}"
            assert accounts.login(storage, "admin", "wrong", address, now_ms=now + k, **limits) is None
        user = accounts.login(storage, "admin", PASSWORD, "10.24.0.5", now_ms=now + 10, **limits)
        assert user is not None and user != "throttled" and user.username == "admin", quarter
    storage.close()


def test_an_address_that_fails_too_often_is_refused_itself(site):
    app, _ = site
    guesser = _client(app, "203.0.113.77")
    for guess in range(5):
        assert _try_login(guesser, ADMIN, f"guess-{guess}").status_code == 401
    # Now this address is refused at this username, even with the right password ...
    refused = _try_login(guesser, ADMIN, PASSWORD)
    assert refused.status_code == 429 and "hl_session" not in refused.cookies
    assert "Đăng nhập sai quá nhiều lần" in refused.text
    # ... while the owner, elsewhere, is not.
    assert _try_login(_client(app, "10.24.0.5"), ADMIN, PASSWORD).status_code == 303


def test_an_address_spraying_many_usernames_is_refused(tmp_path):
    storage = open_storage(server_db_location(tmp_path))
    _add_admin(storage, "an")
    for n in range(8):
        _add_admin(storage, f"user{n}")
    limits = dict(max_failures=5, window_s=WINDOW_S, address_max_failures=8)
    now = 1_800_000_000_000
    for n in range(8):  # one try each at 8 names: under every per-username limit
        assert accounts.login(storage, f"user{n}", "password123", "203.0.113.9", now_ms=now + n, **limits) is None
    assert accounts.login(storage, "an", PASSWORD, "203.0.113.9", now_ms=now + 30, **limits) == "throttled"
    assert accounts.login(storage, "an", PASSWORD, "10.0.0.2", now_ms=now + 31, **limits).username == "an"
    # When the window has passed, the address may try again.
    later = now + WINDOW_S * 1000 + 100
    assert accounts.login(storage, "an", PASSWORD, "203.0.113.9", now_ms=later, **limits).username == "an"
    storage.close()


def test_wrong_password_delay_grows_and_is_capped(tmp_path):
    storage = open_storage(server_db_location(tmp_path))
    now = 1_800_000_000_000

    def delay(at=None):
        return accounts.wrong_password_delay(storage, "admin", 5, WINDOW_S, 3.0, now_ms=at or now + 1000)

    seen = []
    for k in range(10):
        seen.append(delay())
        storage.note_login_failure(list(accounts.throttle_keys("admin", f"203.0.113.{k}").values()), now + k, WINDOW_S * 4000)
    assert seen == [0, 0, 0, 0, 0, 0.25, 0.5, 1.0, 2.0, 3.0]
    assert delay() == 3.0  # capped
    assert accounts.wrong_password_delay(storage, "admin", 5, WINDOW_S, 0, now_ms=now + 1000) == 0  # 0 turns it off
    assert delay(now + WINDOW_S * 1000 + 100) == 0  # the window ran out
    assert accounts.wrong_password_delay(storage, "someone-else", 5, WINDOW_S, 3.0, now_ms=now + 1000) == 0
    storage.close()


def test_under_attack_wrong_answers_wait_and_the_right_one_does_not(tmp_path):
    app, storage = make_app(tmp_path, login_max_failures=2, login_delay_max_s=1.5)
    _add_admin(storage)
    for n in range(5):  # 5 failures from 5 addresses: the username is under attack
        storage.note_login_failure(list(accounts.throttle_keys(ADMIN, f"203.0.113.{n}").values()),
                                   int(time.time() * 1000), WINDOW_S * 4000)
    attacker = _client(app, "203.0.113.200")
    started = time.monotonic()
    assert _try_login(attacker, ADMIN, "guess").status_code == 401
    assert time.monotonic() - started >= 1.5  # 0.25 × 2^(5-2) = 2 s, capped at 1.5 s
    owner = _client(app, "10.24.0.5")
    started = time.monotonic()
    assert _try_login(owner, ADMIN, PASSWORD).status_code == 303
    assert time.monotonic() - started < 1.5  # the right password is answered without the wait
    # The owner's success does not wipe the attack's tally: the next wrong guess still waits.
    assert accounts.wrong_password_delay(storage, ADMIN, 2, WINDOW_S, 1.5) == 1.5
    storage.close()


def test_a_huge_username_does_not_become_a_huge_key(site):
    app, storage = site
    assert _try_login(_client(app, "203.0.113.5"), "a" * 200_000, "x").status_code == 401
    keys = accounts.throttle_keys("a" * 200_000, "203.0.113.5")
    assert all(len(k) < 200 for k in keys.values())
    assert storage.login_failures(keys["pair"], 0) == 1


# --- item 6: security headers ---------------------------------------------------------------------

def _assert_security_headers(resp, https: bool = False) -> str:
    h = resp.headers
    csp = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, (resp.request.url, csp)
    assert h.get("x-frame-options") == "DENY"
    assert h.get("x-content-type-options") == "nosniff"
    assert h.get("referrer-policy") == "no-referrer"
    assert len(h.get_list("content-security-policy")) == 1
    if https:
        assert h.get("strict-transport-security") == "max-age=31536000"
    else:
        assert "strict-transport-security" not in h
    # No CDN, no other host: every source is a keyword, a nonce, a hash or data:.
    for token in csp.replace(";", " ").split():
        assert token.startswith(("'", "data:")) or re.fullmatch(r"[a-z-]+", token), token
    return csp


class _Broken(Exception):
    pass


@pytest.mark.parametrize("https", [False, True])
def test_every_kind_of_answer_carries_the_headers(tmp_path, https):
    app, storage = make_app(tmp_path)
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False,
                        base_url="https://testserver" if https else "http://testserver")
    page = client.get("/login")
    assert page.status_code == 200
    csp = _assert_security_headers(page, https)
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]  # scripts: nonce or hash only
    for path, status in (("/api/v1/kiosk/config", 401), ("/api/v1/nope", 404), ("/static/admin.css", 200),
                         ("/openapi.json", 200), ("/admin/units", 303), ("/s/0000", 404)):
        resp = client.get(path)
        assert resp.status_code == status, path
        _assert_security_headers(resp, https)
    api_error = client.get("/api/v1/kiosk/config")
    assert api_error.json()["error"]["code"] == "missing_token"
    assert api_error.headers["content-security-policy"].startswith("default-src 'none'")
    # Even an unexpected 500 (answered by Starlette's outermost error middleware).
    def explode(*args, **kwargs):
        raise _Broken("boom")
    storage.device_by_token = explode
    crash = client.get("/api/v1/kiosk/config", headers={"Authorization": "Bearer hl1_x"})
    assert crash.status_code == 500
    _assert_security_headers(crash, https)
    storage.close()


def test_inline_script_runs_only_with_the_responses_nonce(tmp_path):
    app, storage = make_app(tmp_path)
    client = TestClient(app, follow_redirects=False)
    first, second = client.get("/s/7201"), client.get("/s/7201")
    assert first.status_code == 200
    nonces = []
    for resp in (first, second):
        nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", resp.headers["content-security-policy"]).group(1)
        scripts = re.findall(r"<script\b[^>]*>", resp.text)
        assert scripts == [f'<script nonce="{nonce}">'], scripts  # the show_if script, and only with the nonce
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 16  # one per response, unguessable
    storage.close()


def test_cookies_are_secure_over_https_without_cookie_secure(tmp_path):
    app, storage = make_app(tmp_path)  # cookie_secure left at its default (false)
    _add_admin(storage)
    plain, tls = _client(app), _client(app, https=True)
    assert all("secure" not in c.lower() for c in plain.get("/login").headers.get_list("set-cookie"))
    form = tls.get("/login")
    assert form.headers.get_list("set-cookie") and all("; Secure" in c for c in form.headers.get_list("set-cookie"))
    token = CSRF_RE.search(form.text).group(1)
    signed_in = tls.post("/login", data={"username": ADMIN, "password": PASSWORD, "csrf": token})
    session = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith("hl_session="))
    assert "Secure" in session and "HttpOnly" in session
    assert all("Secure" in c for c in signed_in.headers.get_list("set-cookie"))  # the csrf cookie's deletion too
    # Cookies set by other modules get it too: the QR form's browser cookie, the language cookie.
    for path in ("/s/7201", "/lang/en?next=/login"):
        cookies = tls.get(path).headers.get_list("set-cookie")
        assert cookies and all(c.count("Secure") == 1 for c in cookies), (path, cookies)
    storage.close()


def test_behind_the_proxy_https_comes_from_x_forwarded_proto(server):
    """The documented deployment: nginx on 127.0.0.1 sends X-Forwarded-Proto; the real `serve`."""
    over_tls = requests.get(server.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert over_tls.headers["strict-transport-security"] == "max-age=31536000"
    assert "Secure" in over_tls.headers["set-cookie"]
    plain = requests.get(server.url + "/login", timeout=10)
    assert "strict-transport-security" not in plain.headers and "Secure" not in plain.headers["set-cookie"]
    assert plain.headers["x-frame-options"] == "DENY"


def test_the_nginx_example_sends_the_same_headers():
    conf = (ROOT / "installer" / "nginx" / "hailong.conf").read_text(encoding="utf-8")
    for header, value in (("Strict-Transport-Security", '"max-age=31536000"'), ("X-Frame-Options", '"DENY"'),
                          ("X-Content-Type-Options", '"nosniff"'), ("Referrer-Policy", '"no-referrer"'),
                          ("Content-Security-Policy", "$hailong_csp")):
        assert re.search(rf"^\s*add_header {header} {re.escape(value)} always;", conf, re.M), header
    assert "frame-ancestors 'none'" in conf


# --- item 7: JSON depth cap -------------------------------------------------------------------------

def _deep(kind: str, depth: int, inner: bytes = b"1") -> bytes:
    if kind == "array":
        return b"[" * depth + inner + b"]" * depth
    return b'{"a":' * depth + inner + b"}" * depth


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    app, storage = make_app(tmp_path_factory.mktemp("api"))
    client = TestClient(app, raise_server_exceptions=False)
    yield client, {"Authorization": f"Bearer {_device_token(storage)}", "Content-Type": "application/json"}
    storage.close()


@pytest.mark.parametrize("route", ["/api/v1/enroll", "/api/v1/kiosk/heartbeat", "/api/v1/kiosk/responses"])
@pytest.mark.parametrize("depth", [600, 900, 5000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_deep_json_is_refused_before_validation(api, caplog, route, depth, kind):
    client, headers = api
    bodies_sent = [_deep(kind, depth),  # the whole body
                   b'{"code": ' + _deep(kind, depth) + b', "responses": ' + _deep(kind, depth) + b"}"]  # inside a field
    for raw in bodies_sent:
        with caplog.at_level(logging.DEBUG):
            resp = client.post(route, content=raw, headers=headers)
        assert resp.status_code == 400, resp.text[:300]
        assert resp.json() == {"error": {"code": "json_too_deep", "message": "the JSON nests deeper than 32 levels"}}
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


def test_deep_json_inside_gzip_is_refused_too(api):
    client, headers = api
    raw = gzip.compress(b'{"responses": ' + _deep("array", 900) + b"}")
    resp = client.post("/api/v1/kiosk/responses", content=raw, headers={**headers, "Content-Encoding": "gzip"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "json_too_deep")


def test_the_depth_cap_is_exact_and_the_check_iterative(api):
    client, _ = api
    # 32 levels pass the parser (and fail validation as usual: 422); 33 are refused.
    ok = b'{"code": "x", "name": ' + _deep("array", 31) + b"}"
    assert client.post("/api/v1/enroll", content=ok).json()["error"]["code"] == "invalid_body"
    too_deep = b'{"code": "x", "name": ' + _deep("array", 32) + b"}"
    assert client.post("/api/v1/enroll", content=too_deep).json()["error"]["code"] == "json_too_deep"
    # Far deeper than Python's recursion limit: the check itself never recurses.
    value: list = []
    for _ in range(200_000):
        value = [value]
    assert bodies.json_depth_exceeds(value, 32) is True
    upload = {"responses": [{"answers": {"q": ["a"]}, "questionnaire": {"id": "q", "version": 1}}]}
    assert bodies.json_depth_exceeds(upload, 5) is False  # the deepest body of protocol v1
    assert bodies.json_depth_exceeds(upload, 4) is True
    assert bodies.json_depth_exceeds("text", 0) is False


def test_deep_json_without_a_token_is_not_even_read(api):
    client, _ = api
    resp = client.post("/api/v1/kiosk/heartbeat", content=_deep("array", 5000))
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "missing_token")


def test_small_bodies_keep_their_answers(api):
    client, headers = api
    beat = {"pending": 3, "app_version": "1.0", "device_time": "2026-11-28T08:15:02+07:00"}
    assert client.post("/api/v1/kiosk/heartbeat", json=beat, headers=headers).status_code == 204
    assert client.post("/api/v1/kiosk/heartbeat", json={"pending": "many"}, headers=headers).json()["error"]["code"] == "invalid_body"
    assert client.post("/api/v1/kiosk/heartbeat", json={**beat, "x": 1}, headers=headers).json()["error"] == {
        "code": "unknown_field", "message": "unknown field 'x'"}
    assert client.post("/api/v1/enroll", json={"code": "AAAA-BBBB-CCCC"}).json()["error"]["code"] == "enroll_code_invalid"
    assert client.post("/api/v1/enroll", content=b"{nope").json()["error"]["code"] == "invalid_json"
    assert client.post("/api/v1/enroll", content=b"").status_code == 422
    assert client.post("/api/v1/enroll", json=[1]).json()["error"]["code"] == "invalid_body"
    assert client.post("/api/v1/enroll", content=b'{"code": "x"}', headers={"Content-Type": "text/plain"}).status_code == 415
    big = json.dumps({"code": "x", "name": "n" * 70_000}).encode()
    assert client.post("/api/v1/enroll", content=big).json()["error"]["code"] == "body_too_large"
    doc = client.get("/openapi.json").json()
    for path, model in (("/api/v1/enroll", "EnrollIn"), ("/api/v1/kiosk/heartbeat", "HeartbeatIn"),
                        ("/api/v1/kiosk/responses", "UploadIn")):
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["required"] and body["content"]["application/json"]["schema"]["$ref"] == f"#/components/schemas/{model}"
        assert model in doc["components"]["schemas"]
        assert "503" in doc["paths"][path]["post"]["responses"]


# --- item 13: database down → 503 -------------------------------------------------------------------

def _real_sqlite_error(tmp_path: Path, what: str) -> BaseException:
    """A real exception from the sqlite3 module (not a hand-made one), to script the storage failing."""
    folder = tmp_path / f"scratch-{what}"
    folder.mkdir()
    try:
        if what == "cantopen":  # the database path is a folder
            sqlite3.connect(str(folder)).execute("SELECT 1")
        elif what == "locked":  # another process holds the write lock beyond the timeout
            holder = sqlite3.connect(str(folder / "x.db"), isolation_level=None)
            holder.execute("CREATE TABLE t (x)")
            holder.execute("BEGIN EXCLUSIVE")
            sqlite3.connect(str(folder / "x.db"), timeout=0).execute("INSERT INTO t VALUES (1)")
        elif what == "notadb":
            (folder / "x.db").write_bytes(b"this is not a database file" * 100)
            sqlite3.connect(str(folder / "x.db")).execute("SELECT * FROM sqlite_master")
        elif what == "constraint":
            conn = sqlite3.connect(":memory:")
            conn.execute("CREATE TABLE t (x PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (1)")
        elif what == "syntax":
            sqlite3.connect(":memory:").execute("SELEC 1")
        elif what == "no_table":
            sqlite3.connect(":memory:").execute("SELECT * FROM nowhere")
    except sqlite3.Error as exc:
        return exc
    raise AssertionError(f"no error for {what}")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("what, status", [("cantopen", 503), ("locked", 503), ("notadb", 503),
                                          ("constraint", 500), ("syntax", 500), ("no_table", 500)])
def test_sqlite_unavailable_is_503_and_a_bad_statement_stays_500(tmp_path, caplog, what, status):
    app, storage = make_app(tmp_path)
    token = _device_token(storage)
    error = _real_sqlite_error(tmp_path, what)

    def failing(*args, **kwargs):
        raise error
    storage.device_by_token = failing  # every device call reads the token first
    storage.session = failing  # every page with a session cookie asks who is signed in
    storage.response_count = failing
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    with caplog.at_level(logging.INFO, logger="sync_server"):
        for _ in range(3):
            resp = client.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == status
        client.cookies.set("hl_session", "x")
        page = client.get("/admin/units")
        health = client.get("/healthz")
    if status == 503:
        assert resp.headers["retry-after"] == "30"
        assert resp.json() == {"error": {"code": "database_unavailable", "message": CATALOGUE["database_unavailable"][1]}}
        assert (health.status_code, health.json()["error"]["code"], health.headers["retry-after"]) == (503, "database_unavailable", "30")
        assert page.status_code == 503 and page.headers["retry-after"] == "30"
        assert page.headers["content-type"].startswith("text/html") and "Cơ sở dữ liệu tạm thời không truy cập được" in page.text
        _assert_security_headers(page)
        # One log line for the outage, not one traceback per request.
        lines = [r for r in caplog.records if r.name == "sync_server" and r.levelno >= logging.WARNING]
        assert len(lines) == 1 and "database unavailable" in lines[0].getMessage() and not lines[0].exc_info
    else:
        assert resp.json()["error"]["code"] == "internal_error" and "retry-after" not in resp.headers
        assert page.status_code == 500 and health.status_code == 500
        assert any(r.exc_info for r in caplog.records)  # a real bug keeps its traceback in the log
    storage.close()


def _pg_ctl(action: str, data: Path, port: int) -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "pg-scratch.sh"), action, str(data), str(port)],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.mark.skipif(BACKEND != "postgres", reason="a real PostgreSQL outage: runs on the PostgreSQL pass")
def test_postgres_stopped_is_503_and_started_again_works_without_a_restart(caplog):
    # A cluster of its own: stopping the shared test cluster would break the other tests.
    folder = Path(tempfile.mkdtemp(prefix="hl-pg-down-"))
    folder.chmod(0o755)  # as root the cluster runs as 'postgres', which must reach its folder
    data, port = folder / "data", free_port()
    url = _pg_ctl("start", data, port)
    try:
        storage = open_storage(url)
        _add_admin(storage)
        token = _device_token(storage)
        app = create_app(server_settings.load(db=url), storage)
        # As a context manager: one event loop and its worker threads for every request, as in a
        # real server, so the connections that PostgreSQL's shutdown cut are used again.
        client = TestClient(app, raise_server_exceptions=False, follow_redirects=False).__enter__()
        kiosk = {"Authorization": f"Bearer {token}"}
        form = client.get("/login")
        signed = client.post("/login", data={"username": ADMIN, "password": PASSWORD,
                                             "csrf": CSRF_RE.search(form.text).group(1)})
        assert signed.status_code == 303
        assert client.get("/api/v1/kiosk/config", headers=kiosk).status_code == 200
        assert client.get("/admin/units").status_code == 200

        _pg_ctl("stop", data, port)
        with caplog.at_level(logging.INFO, logger="sync_server"):
            for _ in range(3):
                down = client.get("/api/v1/kiosk/config", headers=kiosk)
                assert down.status_code == 503 and down.headers["retry-after"] == "30"
                assert down.json()["error"]["code"] == "database_unavailable"
            upload = client.post("/api/v1/kiosk/responses", json={"responses": []}, headers=kiosk)
            assert upload.status_code == 503
            page = client.get("/admin/units")
            assert page.status_code == 503 and page.headers["retry-after"] == "30"
            assert "Cơ sở dữ liệu tạm thời không truy cập được" in page.text
            assert client.get("/healthz").status_code == 503
        errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(errors) == 1 and not errors[0].exc_info, [r.getMessage() for r in errors]

        _pg_ctl("start", data, port)
        assert client.get("/api/v1/kiosk/config", headers=kiosk).status_code == 200
        assert client.get("/admin/units").status_code == 200  # the session was kept in the database
        assert client.get("/healthz").status_code == 200
        client.__exit__(None, None, None)
        storage.close()
    finally:
        _pg_ctl("stop", data, port)
