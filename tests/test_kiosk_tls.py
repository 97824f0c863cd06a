"""TLS in government networks (issue 16), against the real server over real HTTPS on 127.0.0.1.

A throwaway CA and a server certificate it issued are made with the openssl command line (the
``cryptography`` package is not a dependency); the server (``create_app`` under uvicorn) serves
that certificate. The public roots the kiosk trusts by default (certifi) do not know the CA, just
as they do not know the Vietnam National Root CA: the default session fails verification, with the
Vietnamese message on the admin screen and in the self-test; ``ca_bundle`` naming the CA succeeds
(enrolment, a sync round, the self-test); a pin of another key refuses even that valid certificate;
the right pin (public key or whole certificate, as openssl prints them) succeeds, also with
``verify_tls`` off; a proxy setting (and the environment's HTTPS_PROXY) goes through a real CONNECT
proxy, which sees the tunnel and nothing of what passes through it.
"""

from __future__ import annotations

import select
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk import selftest, tls
from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import ServerApi, SyncService, SyncTlsError, check_connection, enroll
from sync_server import security
from tests.support import free_port, server_db_location

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command line")
QREF = {"id": "bg-friendly-gov", "version": 1}
NOW = datetime.now(timezone.utc)


def _openssl(*args: str, cwd: Path) -> str:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60).stdout


def _make_ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name} Test Root CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)


def _issue(folder: Path, ca: str, name: str) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                        "extendedKeyUsage=serverAuth\n", encoding="ascii")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=folder)


def _spki_pin(folder: Path, cert: str) -> str:
    """``sha256/BASE64`` of the certificate's public key, the way the install guide tells IT staff to compute it."""
    out = subprocess.run(f"openssl x509 -in {cert} -pubkey -noout | openssl pkey -pubin -outform der | "
                         "openssl dgst -sha256 -binary | openssl base64", shell=True, cwd=folder, capture_output=True,
                         text=True, check=True, timeout=60).stdout.strip()
    return "sha256/" + out


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The province's CA, the server certificate it issued, and another CA's key (an impostor's)."""
    folder = tmp_path_factory.mktemp("pki")
    _make_ca(folder, "province")
    _issue(folder, "province", "server")
    _make_ca(folder, "other")
    fingerprint = _openssl("x509", "-in", "server.pem", "-noout", "-fingerprint", "-sha256", cwd=folder).strip()
    return {"dir": folder, "ca": folder / "province.pem", "cert": folder / "server.pem", "key": folder / "server.key",
            "pin": _spki_pin(folder, "server.pem"), "other_pin": _spki_pin(folder, "other.pem"),
            "cert_fingerprint": fingerprint.split("=", 1)[1]}


@contextmanager
def https_server(db, cert: Path, key: Path):
    """The real app under uvicorn on https://127.0.0.1 (in a thread), serving ``cert``."""
    import uvicorn

    from sync_server import settings as server_settings
    from sync_server.app import create_app
    from sync_server.storage import open_storage

    storage = open_storage(db)
    port = free_port()
    app = create_app(server_settings.load(db=str(db)), storage)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                           ssl_certfile=str(cert), ssl_keyfile=str(key)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTPS server did not start")
        time.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}", storage
    finally:
        server.should_exit = True
        thread.join(10)
        storage.close()


@pytest.fixture(scope="module")
def live(pki, tmp_path_factory):
    with https_server(server_db_location(tmp_path_factory.mktemp("server")), pki["cert"], pki["key"]) as (url, storage):
        yield url, storage


def _code(storage, i: int = 0) -> str:
    code = f"TLSCODE{i:05d}"
    storage.create_enroll_code("7201", security.digest(security.normalise_code(code)), NOW + timedelta(hours=1), f"Quầy TLS {i}")
    return code


class ConnectProxy:
    """A tiny HTTP CONNECT proxy on 127.0.0.1: records each tunnel's target and pumps bytes both ways."""

    def __init__(self):
        self.targets: list[str] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                method, target, _ = head.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
                if method != "CONNECT":
                    self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                outer.targets.append(target)
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                ends = [self.request, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(ends, [], [], 10)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(65536)
                            if not data:
                                return
                            (upstream if end is self.request else self.request).sendall(data)
                finally:
                    upstream.close()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def proxy():
    p = ConnectProxy()
    yield p
    p.close()


def _settings(tmp_path, **values):
    return kiosk_settings.load(tmp_path, **values)


@pytest.fixture(autouse=True)
def _no_environment_proxy(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


# --- the default bundle -----------------------------------------------------------------------------------

def test_the_default_bundle_refuses_a_ca_it_does_not_know_and_says_so_in_vietnamese(live, tmp_path):
    url, _ = live
    settings = _settings(tmp_path)
    api = ServerApi(url, session=tls.session_for(settings))
    with pytest.raises(SyncTlsError) as caught:
        api._request("GET", "/openapi.json")
    assert caught.value.reason == "untrusted"
    assert str(caught.value).startswith("network: SSLError: [tls:untrusted] Không xác minh được chứng thư số của máy chủ: ")
    assert "certificate verify failed" in str(caught.value)

    result = check_connection(url, session=tls.session_for(settings))
    assert result["ok"] is False and "Không xác minh được chứng thư số của máy chủ" in result["message"]
    headline, guidance = tls.explain(result["message"])
    assert headline.startswith("Không xác minh được chứng thư số của máy chủ: chứng thư do một tổ chức chưa được kiosk tin cậy cấp")
    assert "ca_bundle" in guidance and "Vietnam National Root CA" in guidance
    assert tls.explain(result["message"], "en")[0].startswith("The server's certificate cannot be verified")

    # The self-test: TLS settings usable (ok), the server unreachable through them (warn, in Vietnamese).
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(server_url=url, token="hl1_not-a-real-token")
    results = {name: (status, message) for name, status, message in selftest.run_checks(store, settings, ("tls", "server"))}
    assert results["tls"][0] == "ok" and "public roots (certifi)" in results["tls"][1]
    assert results["server"][0] == "warn"
    assert results["server"][1].startswith(f"{url}: Không xác minh được chứng thư số của máy chủ")
    store.close()


def test_enrolment_fails_with_the_default_bundle_and_keeps_nothing(live, tmp_path):
    from kiosk.sync import EnrollError

    url, storage = live
    store = Store(tmp_path / "kiosk.sqlite3")
    with pytest.raises(EnrollError, match="Không xác minh được chứng thư số"):
        enroll(store, url, _code(storage, 1), session=tls.session_for(_settings(tmp_path)))
    assert store.get_meta("token") is None
    store.close()


# --- ca_bundle ----------------------------------------------------------------------------------------------

def test_ca_bundle_naming_the_province_ca_enrols_syncs_and_passes_the_self_test(live, pki, tmp_path):
    url, storage = live
    settings = _settings(tmp_path, ca_bundle=str(pki["ca"]))
    store = Store(tmp_path / "kiosk.sqlite3")
    data = enroll(store, url, _code(storage, 2), "Quầy TLS", session=tls.session_for(settings))
    assert data["unit_code"] == "7201" and store.get_meta("config")  # the config came too, over the same TLS
    store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    report = SyncService(store, settings).run_round(force=True)
    assert report["error"] is None and report["sent"] == 1
    assert storage.device(data["device_id"])["last_seen_at"]  # the heartbeat arrived
    results = {name: status for name, status, _ in selftest.run_checks(store, settings, ("tls", "server"))}
    assert results == {"tls": "ok", "server": "ok"}
    store.close()


def test_appended_not_replaced_the_public_roots_stay_trusted(pki):
    """The bundle adds the province's CA to certifi's roots: a public CA's certificate still verifies."""
    import certifi

    context = tls.load_bundle(str(pki["ca"]))
    subjects = {dict(x[0] for x in cert["subject"]).get("commonName") for cert in context.get_ca_certs()}
    assert "province Test Root CA" in subjects
    public = tls.load_bundle(certifi.where()).get_ca_certs()
    assert len(context.get_ca_certs()) >= len(public) > 100


def test_a_ca_bundle_that_cannot_be_read_fails_the_self_test_and_says_why(live, tmp_path):
    url, _ = live
    broken = tmp_path / "not-a-pem.pem"
    broken.write_text("this is not a certificate\n", encoding="ascii")
    for path in (broken, tmp_path / "missing.pem"):
        settings = _settings(tmp_path, ca_bundle=str(path))
        with pytest.raises(SyncTlsError) as caught:
            ServerApi(url, session=tls.session_for(settings))._request("GET", "/openapi.json")
        assert caught.value.reason == "bundle" and str(path) in str(caught.value)
        assert tls.explain(str(caught.value))[0] == "Không đọc được tệp chứng thư gốc (ca_bundle) đã khai báo trên kiosk."
        store = Store(tmp_path / "kiosk.sqlite3")
        [(name, status, message)] = selftest.run_checks(store, settings, ("tls",))
        assert status == "fail" and str(path) in message
        store.close()


# --- pins ----------------------------------------------------------------------------------------------------

def test_a_pin_of_another_key_refuses_even_a_valid_certificate(live, pki, tmp_path):
    url, storage = live
    settings = _settings(tmp_path, ca_bundle=str(pki["ca"]), tls_pin_sha256=pki["other_pin"])
    with pytest.raises(SyncTlsError) as caught:
        ServerApi(url, session=tls.session_for(settings))._request("GET", "/openapi.json")
    assert caught.value.reason == "pin"
    assert pki["pin"] in str(caught.value)  # the message names the key the server sent: IT staff can compare
    assert tls.explain(str(caught.value))[0].startswith("Chứng thư số của máy chủ không đúng chứng thư đã ghim")

    # A sync round: the error is kept (admin screen), nothing is sent, nothing lost.
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(server_url=url, token="hl1_whatever")
    store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 4})
    report = SyncService(store, settings).run_round(force=True)
    assert report["sent"] == 0 and "[tls:pin]" in report["error"] and store.counts()["pending"] == 1
    assert "[tls:pin]" in store.status()["last_error"]
    store.close()


@pytest.mark.parametrize("which", ["spki", "certificate", "both, the current one second"])
def test_the_right_pin_is_accepted_in_either_form(live, pki, tmp_path, which):
    url, _ = live
    pin = {"spki": pki["pin"], "certificate": pki["cert_fingerprint"],
           "both, the current one second": f"{pki['other_pin']}, {pki['pin']}"}[which]
    settings = _settings(tmp_path, ca_bundle=str(pki["ca"]), tls_pin_sha256=pin)
    assert check_connection(url, session=tls.session_for(settings))["ok"]


def test_with_verification_off_the_pin_alone_decides(live, pki, tmp_path):
    """A self-signed server (no CA at all): verify_tls off, and the pin is what keeps impostors out."""
    url, _ = live
    right = _settings(tmp_path, verify_tls=False, tls_pin_sha256=pki["pin"])
    assert check_connection(url, session=tls.session_for(right), verify=False)["ok"]
    wrong = _settings(tmp_path, verify_tls=False, tls_pin_sha256=pki["other_pin"])
    result = check_connection(url, session=tls.session_for(wrong), verify=False)
    assert not result["ok"] and "[tls:pin]" in result["message"]


def test_pins_in_the_settings_are_checked_when_they_load(tmp_path):
    from hailong_core.settings import SettingsError

    with pytest.raises(SettingsError, match="tls_pin_sha256"):
        _settings(tmp_path, tls_pin_sha256="sha256/not-base64!")
    with pytest.raises(SettingsError, match="https_proxy"):
        _settings(tmp_path, https_proxy="127.0.0.1:3128")
    assert len(tls.parse_pins("sha256/" + "A" * 43 + "=, " + "ab:" * 31 + "ab")) == 2


def test_the_spki_walk_agrees_with_openssl(pki):
    import ssl

    der = ssl.PEM_cert_to_DER_cert(pki["cert"].read_text(encoding="ascii"))
    assert tls.spki_pin(der) == pki["pin"]


# --- proxy ---------------------------------------------------------------------------------------------------

def test_the_proxy_setting_tunnels_through_a_real_connect_proxy(live, pki, tmp_path, proxy):
    url, storage = live
    settings = _settings(tmp_path, ca_bundle=str(pki["ca"]), https_proxy=proxy.url, tls_pin_sha256=pki["pin"])
    store = Store(tmp_path / "kiosk.sqlite3")
    data = enroll(store, url, _code(storage, 3), session=tls.session_for(settings))
    store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 3})
    report = SyncService(store, settings).run_round(force=True)
    assert report["error"] is None and report["sent"] == 1
    port = url.rsplit(":", 1)[1]
    assert proxy.targets and set(proxy.targets) == {f"127.0.0.1:{port}"}  # every call went through the tunnel
    assert storage.device(data["device_id"])["pending"] == 0
    store.close()


def test_the_environments_https_proxy_is_honoured_without_the_setting(live, pki, tmp_path, proxy, monkeypatch):
    url, _ = live
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    assert check_connection(url, session=tls.session_for(_settings(tmp_path, ca_bundle=str(pki["ca"]))))["ok"]
    assert proxy.targets == [f"127.0.0.1:{url.rsplit(':', 1)[1]}"]


def test_a_proxy_that_is_not_there_is_a_proxy_error_not_a_certificate_one(live, pki, tmp_path):
    url, _ = live
    settings = _settings(tmp_path, ca_bundle=str(pki["ca"]), https_proxy=f"http://127.0.0.1:{free_port()}")
    result = check_connection(url, session=tls.session_for(settings), timeout=(2, 2))
    assert not result["ok"] and "ProxyError" in result["message"] and tls.explain(result["message"]) is None


# --- the admin screen ------------------------------------------------------------------------------------------

def test_the_admin_screen_words_a_certificate_failure_in_vietnamese(qtbot, live, tmp_path):
    from kiosk import admin_messages as am
    from kiosk.ui.admin import AdminScreen

    url, _ = live
    error = check_connection(url, session=tls.session_for(_settings(tmp_path)))["message"]
    screen = AdminScreen()
    qtbot.addWidget(screen)
    status = {"enrolled": True, "device_id": "0" * 36, "unit_code": "7201", "server_url": url, "pending": 2, "sent": 0,
              "kept_aside": 0, "drafts": 0, "last_sync_at": None, "last_error": error, "last_error_at": "2026-03-02T09:00:00+07:00",
              "last_storage_error": None}
    screen.show_status(status, [], [], None, QREF, "vi")
    headline = screen.last_error_panel.headline_label.text()
    assert headline == tls.VI["untrusted"][0]
    assert "ca_bundle" in screen.last_error_panel.guidance_label.text()
    assert "certificate verify failed" in screen.last_error_panel._details
    screen.show_message(am.describe_test({"ok": False, "message": error}, "vi"))
    assert screen.result_panel.headline_label.text() == tls.VI["untrusted"][0]
