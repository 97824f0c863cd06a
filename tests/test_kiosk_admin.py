"""The admin screen for field IT staff: Vietnamese messages that say what to do, province time,
the kiosk's label, no clipping, a keyboard that types URLs, finger scrolling.

The messages are tested pure (kiosk.admin_messages has no Qt). The screen is tested against
broken servers on real sockets: a local port with nothing listening, and a tiny real HTTP
server that answers 500, HTML or our error shape as scripted (the only thing scripted is what
crosses the network).
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import http.server  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import string  # noqa: E402
import threading  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QObject, QPoint, QRect, Qt, Signal, Slot  # noqa: E402
from PySide6.QtGui import QFontMetrics  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QLabel, QScroller  # noqa: E402

from hailong_core.questionnaire import load_default_questionnaire  # noqa: E402
from kiosk import admin_messages as am  # noqa: E402
from kiosk import settings as kiosk_settings  # noqa: E402
from kiosk import sync  # noqa: E402
from kiosk.app import build, ensure_vietnamese_font  # noqa: E402
from kiosk.store import Store  # noqa: E402
from kiosk.ui import style  # noqa: E402
from kiosk.ui.keyboard import SHIFT  # noqa: E402
from tests.screens import screen_path  # noqa: E402
from tests.support import free_port  # noqa: E402

SCREENSHOT = "admin_broken_server.png"  # in tmp_path; docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1
LEFT = Qt.MouseButton.LeftButton
DEVICE_ID = "3f2a9c1d-5b7e-4c2a-9d1e-0a1b2c3d4e5f"
UNIT = {"code": "7201", "name": "Bộ phận một cửa UBND xã Tân Tiến", "level": "commune"}
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùý]", re.IGNORECASE)
# Words of developers, not of IT staff: none may show outside the details box.
DEVELOPER_WORDS = ("Traceback", "test_connection", "sync:", "enrol:", "network:", "Error:", "unexpected:", "token refused",
                   "not our server", "HTTPConnectionPool", "kept aside")


def config(**settings) -> dict:
    return {"unit": UNIT, "officers": [{"id": "cb-01", "name": "Nguyễn Thị Hoa", "pin_hash": "x"}],
            "questionnaire": load_default_questionnaire().to_dict(),
            "settings": {"time_zone": "Asia/Ho_Chi_Minh", "utc_offset_h": 7, **settings}}


# --- a tiny real HTTP server, answering as scripted -----------------------------------------------

class Scripted(http.server.ThreadingHTTPServer):
    """Answers each path with ``script[(method, path)]`` or ``script["*"]``: ``(status, content type, body)``."""

    daemon_threads = True

    def __init__(self, script: dict):
        self.script = script
        self.seen: list[tuple[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?")[0]
        self.server.seen.append((self.command, path))
        status, ctype, body = self.server.script.get((self.command, path)) or self.server.script["*"]
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted():
    servers = []

    def start(script: dict) -> Scripted:
        srv = Scripted(script)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def our_error(status: int, code: str, message: str):
    return (status, "application/json", {"error": {"code": code, "message": message}})


HTML_500 = (500, "text/html", b"<html><body><h1>500 Internal Server Error</h1>nginx</body></html>")
HTML_200 = (200, "text/html", b"<html><body>Welcome to the hotel Wi-Fi. Please sign in.</body></html>")


# --- the window -----------------------------------------------------------------------------------

class Relay(QObject):
    """Re-emits the worker's reports on the UI thread, after the window's own slots ran."""

    sig_report = Signal(dict)
    sig_job = Signal(str, dict)

    def __init__(self, worker):
        super().__init__()
        worker.sig_sync_finished.connect(self.take_report)
        worker.sig_job_finished.connect(self.take_job)

    @Slot(dict)
    def take_report(self, report: dict) -> None:
        self.sig_report.emit(report)

    @Slot(str, dict)
    def take_job(self, name: str, result: dict) -> None:
        self.sig_job.emit(name, result)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite3")
    s.set_meta(unit_code="7201", config=config())
    yield s
    s.close()


def enrolled(store: Store, url: str) -> None:
    store.set_meta(server_url=url, token="device-token-secret", device_id=DEVICE_ID)


@pytest.fixture
def open_window(qtbot, tmp_path, qapp):
    ensure_vietnamese_font(qapp)
    made = []

    def make(store: Store, size=(1280, 800)):
        settings = kiosk_settings.load(tmp_path, input_guard_s=0, connect_timeout_s=2.0, read_timeout_s=3.0,
                                       backoff_base_s=0.5, sync_interval_s=600, thank_you_s=30)
        window, worker = build(store, settings)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        made.append(worker)
        return window, worker, Relay(worker)

    yield make
    for worker in made:
        assert worker.stop(), "the sync thread did not stop"


def tap(qtbot, widget) -> None:
    qtbot.mouseClick(widget, LEFT)


def shown_texts(screen) -> list[str]:
    """Every text IT staff see on the screen, except inside the details boxes."""
    out = []
    for lab in screen.findChildren(QLabel):
        if lab.isVisible() and lab.text() and not lab.objectName().endswith("_details"):
            out.append(lab.text())
    out += [b.text() for b in screen.findChildren(QAbstractButton) if b.isVisible() and b.text()]
    return out


def assert_for_staff(screen) -> None:
    for text in shown_texts(screen):
        assert not any(word in text for word in DEVELOPER_WORDS), text


def clipped(screen) -> list[str]:
    """Labels and buttons whose text does not fit their geometry, and widgets beyond the page's width."""
    bad = []
    viewport = screen.scroll.viewport()
    for lab in screen.findChildren(QLabel):
        if not lab.isVisible() or not lab.text():
            continue
        rect = lab.contentsRect()
        flags = int(lab.alignment()) | (int(Qt.TextFlag.TextWordWrap) if lab.wordWrap() else 0)
        need = QFontMetrics(lab.font()).boundingRect(QRect(0, 0, rect.width(), 100_000), flags, lab.text())
        if need.height() > rect.height() + 1 or need.width() > rect.width() + 1:
            bad.append(f"label {lab.objectName() or lab.text()[:30]!r}: needs {need.size()}, has {rect.size()}")
    for button in screen.findChildren(QAbstractButton):
        if not button.isVisible() or not button.text():
            continue
        metrics = QFontMetrics(button.font())
        if metrics.horizontalAdvance(button.text()) > button.width() - 4 or metrics.height() > button.height():
            bad.append(f"button {button.text()!r}: {button.size()}")
    for widget in screen._inner.findChildren(QLabel) + screen._inner.findChildren(QAbstractButton):
        if widget.isVisible():
            right = widget.mapTo(viewport, QPoint(widget.width(), 0)).x()
            if right > viewport.width() + 1:
                bad.append(f"{widget.objectName() or widget.text()[:30]!r} ends at x={right}, page is {viewport.width()}")
    return bad


def assert_nothing_clipped(qtbot, screen) -> None:
    """Right away, with no turn of the event loop: every text fits its geometry (a grab now is right)."""
    assert not clipped(screen), clipped(screen)


# --- pure: what each error says -------------------------------------------------------------------

CONNECTION_REFUSED = ("network: ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
                      "/api/v1/kiosk/responses (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=9): "
                      "Failed to establish a new connection: [Errno 111] Connection refused\"))")
SSL = ("network: SSLError: HTTPSConnectionPool(host='hailong.bacninh.gov.vn', port=8443): Max retries exceeded with url: "
       "/openapi.json (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
       "failed: {what} (_ssl.c:1006)')))")

# (message, context, kind, words the Vietnamese must hold)
CASES = [
    (CONNECTION_REFUSED, "sync", "refused", "Không kết nối được máy chủ"),
    ("network: ConnectionError: HTTPConnectionPool(host='hailong.bacnih.gov.vn', port=443): Max retries exceeded with url: "
     "/openapi.json (Caused by NameResolutionError(\"HTTPConnection(host='hailong.bacnih.gov.vn', port=443): Failed to "
     "resolve 'hailong.bacnih.gov.vn' ([Errno -2] Name or service not known)\"))", "test", "dns", "Không tìm thấy máy chủ"),
    ("network: ConnectionError: HTTPConnectionPool(host='10.0.0.5', port=80): Max retries exceeded with url: / (Caused by "
     "NewConnectionError(\"HTTPConnection(host='10.0.0.5', port=80): Failed to establish a new connection: [Errno 101] "
     "Network is unreachable\"))", "sync", "no_network", "cáp mạng hoặc Wi-Fi"),
    ("network: ConnectTimeout: HTTPConnectionPool(host='10.255.255.1', port=80): Max retries exceeded with url: /openapi.json "
     "(Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at 0x7f3a2b1c>, 'Connection to 10.255.255.1 "
     "timed out. (connect timeout=5.0)'))", "test", "connect_timeout", "quá thời gian chờ"),
    ("network: ReadTimeout: HTTPConnectionPool(host='127.0.0.1', port=8000): Read timed out. (read timeout=30.0)", "sync",
     "read_timeout", "quá chậm"),
    ("network: ConnectionError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))", "test",
     "connection_reset", "bị ngắt"),
    ("network: ProxyError: HTTPConnectionPool(host='proxy', port=3128): Max retries exceeded with url: http://x/ (Caused by "
     "ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: 403 Forbidden')))", "sync", "proxy", "proxy"),
    (SSL.format(what="self-signed certificate"), "test", "tls_untrusted", "chứng chỉ"),
    (SSL.format(what="unable to get local issuer certificate"), "sync", "tls_untrusted", "chứng chỉ"),
    (SSL.format(what="certificate has expired"), "sync", "tls_expired", "ngày giờ của thiết bị"),
    (SSL.format(what="Hostname mismatch, certificate is not valid for 'hailong.bacninh.gov.vn'"), "test", "tls_hostname",
     "tên miền"),
    ("network: SSLError: HTTPSConnectionPool(host='127.0.0.1', port=8000): Max retries exceeded with url: /openapi.json "
     "(Caused by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)')))", "test",
     "tls_not_https", "HTTPS"),
    ("network: SSLError: HTTPSConnectionPool(host='h', port=443): Max retries exceeded with url: / (Caused by SSLError("
     "SSLError(1, '[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2638)')))", "sync",
     "tls_client_cert", "Máy chủ không nhận chứng chỉ"),
    ("network: InvalidURL: Failed to parse: Host 'a b' contains invalid character ' '", "test", "address_invalid",
     "Địa chỉ máy chủ chưa đúng"),
    ("the address must start with http:// or https://", "test", "address_invalid", "https://"),
    ("redirected (302) to http://portal.wifi/login: not our server", "sync", "captive_portal", "Wi-Fi"),
    ("answer is text/html, not our server's JSON", "test", "not_our_server", "không phải máy chủ Hài Lòng"),
    ("answer is not valid JSON: not our server", "sync", "not_our_server", "không phải máy chủ Hài Lòng"),
    ("reachable, but it does not speak protocol v1", "test", "not_our_server", "không phải máy chủ Hài Lòng"),
    ("upload answered 400 without our error shape: not our server", "sync", "not_our_server", "Hài Lòng"),
    ("upload answer has no valid per-item results: not our server", "sync", "not_our_server", "Hài Lòng"),
    ("config answer has no questionnaire: not our server", "sync", "not_our_server", "Hài Lòng"),
    ("HTTP 404: not our server?", "test", "address_path", "phần đầu của địa chỉ"),
    ("server 500: http_500: HTTP 500 without our error shape", "sync", "server_error", "Máy chủ đang gặp lỗi"),
    ("server 500: internal_error: internal error; the server's log has the details", "sync", "server_error", "gặp lỗi"),
    ("server 503: database_unavailable: the database cannot be reached; try again shortly", "sync", "server_unavailable",
     "tạm thời không hoạt động"),
    ("server 502: http_502: HTTP 502 without our error shape", "sync", "server_unavailable", "tạm thời"),
    ("server 429: rate_limited: too many answers from this address; wait a few minutes", "sync", "server_busy", "bận"),
    ("heartbeat answered 422: unknown_field: the body has a field this server does not know", "sync", "old_server",
     "khác phiên bản"),
    ("config answered 415: unsupported_media_type: send application/json", "sync", "request_refused", "từ chối"),
    ("token refused: device_revoked: this device was revoked; enrol it again", "sync", "token_revoked", "thu hồi"),
    ("token refused: invalid_token: the device token is not known", "sync", "token_unknown", "không nhận ra thiết bị"),
    ("token refused: http_401: HTTP 401 without our error shape", "sync", "token_unknown", "đăng ký lại"),
    ("reachable, but the token is refused (device_revoked: this device was revoked; enrol it again): re-enrol", "test",
     "token_revoked", "Mã đăng ký"),
    ("enroll_code_invalid: unknown enrolment code", "enrol", "code_invalid", "Mã đăng ký không đúng hoặc đã hết hạn"),
    ("enroll_code_invalid: this enrolment code has expired", "enrol", "code_expired", "hết hạn"),
    ("enroll_code_invalid: this enrolment code was already used", "enrol", "code_used", "đã được dùng"),
    ("invalid_body: the body does not have the expected shape", "enrol", "code_invalid", "Mã đăng ký"),
    ("server unreachable: " + CONNECTION_REFUSED, "enrol", "refused", "Không kết nối được máy chủ"),
    ("the server's answer lacks device_id, token or unit_code", "enrol", "not_our_server", "Hài Lòng"),
    ("not enrolled", "sync", "not_enrolled", "chưa đăng ký"),
    ("unexpected: StoreError: database or disk is full", "sync", "disk_full", "Bộ nhớ của thiết bị đã đầy"),
    ("database or disk is full", "storage", "disk_full", "đầy"),
    ("database is locked", "storage", "db_locked", "khoá"),
    ("attempt to write a readonly database", "storage", "db_readonly", "chỉ đọc"),
    ("disk I/O error", "storage", "db_io", "ổ đĩa"),
    ("database disk image is malformed", "storage", "db_corrupt", "export-pending"),
    ("unable to open database file", "storage", "db_cantopen", "Không mở được"),
    ("unexpected: KeyError: 'results'", "sync", "unexpected", "Chi tiết"),
]


@pytest.mark.parametrize("message,context,kind,words", CASES, ids=[c[2] + "-" + c[1] for c in CASES])
def test_each_error_says_in_vietnamese_what_to_do(message, context, kind, words):
    said = am.describe_error(message, "vi", context)
    assert said.kind == kind
    headline, guidance, details = said
    assert words.lower() in (headline + " " + guidance).lower()
    assert VIETNAMESE.search(headline) and guidance
    assert not any(word in headline + guidance for word in DEVELOPER_WORDS)
    assert "Traceback" not in details and " at 0x" not in details
    english = am.describe_error(message, "en", context)
    assert english.kind == kind and english.headline != headline
    assert not VIETNAMESE.search(english.headline.replace("Hài Lòng", ""))


def test_details_carry_the_code_status_class_and_reason():
    headline, guidance, details = am.describe_error("server unreachable: " + CONNECTION_REFUSED, "vi", "enrol")
    assert "EnrollError ← SyncTemporaryError ← ConnectionError" in details
    assert "[Errno 111] Connection refused" in details and "127.0.0.1:9 /api/v1/kiosk/responses" in details
    details = am.describe_error("token refused: device_revoked: this device was revoked; enrol it again", "vi").details
    assert "mã lỗi: device_revoked" in details and "HTTP: 403" in details and "SyncAuthError" in details
    leaked = "network: ConnectionError: boom\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: x"
    assert "Traceback" not in am.describe_error(leaked, "vi").details


def test_every_server_error_code_and_item_code_is_known():
    from sync_server.errors import CATALOGUE, ITEM_CODES

    assert set(am.CODE_KINDS) == set(CATALOGUE)
    assert all(am.CODE_STATUS[code] == status for code, (status, _) in CATALOGUE.items())
    for code, (status, message) in CATALOGUE.items():
        said = am.describe_error(f"server {status}: {code}: {message}" if status >= 500 or status == 429
                                 else f"config answered {status}: {code}: {message}", "vi")
        assert said.kind != "unexpected", code
    for code in ITEM_CODES:
        assert code in am.KEPT_REASONS["vi"] and code in am.KEPT_REASONS["en"]
        assert am.kept_reason(f"rejected: {code}: whatever", "vi") == am.KEPT_REASONS["vi"][code]


def test_catalogues_agree():
    fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
    assert am.VI.keys() == am.EN.keys()
    for kind in am.VI:
        assert [fields(t) for t in am.VI[kind]] == [fields(t) for t in am.EN[kind]], kind
    assert am.KEPT_REASONS["vi"].keys() == am.KEPT_REASONS["en"].keys()
    assert am.WORDS["vi"].keys() == am.WORDS["en"].keys()


def test_sync_reports_in_words():
    assert tuple(am.describe_sync({"sent": 12, "kept_aside": 0, "error": None}, "vi", pending=0)) == (
        "Đã gửi 12 phiếu; còn 0 phiếu chờ gửi.", "", "")
    nothing = am.describe_sync({"sent": 0, "kept_aside": 0, "error": None, "config_changed": True}, "vi", pending=0)
    assert nothing.ok and nothing.headline == "Đồng bộ xong: không có phiếu nào chờ gửi."
    assert "cấu hình mới" in nothing.guidance
    kept = am.describe_sync({"sent": 3, "kept_aside": 2, "error": None}, "vi", pending=1)
    assert kept.headline == "Đã gửi 3 phiếu; còn 1 phiếu chờ gửi." and "2 phiếu bị máy chủ từ chối" in kept.guidance
    failed = am.describe_sync({"sent": 0, "kept_aside": 0, "error": CONNECTION_REFUSED}, "vi", pending=4)
    assert not failed.ok and failed.headline == "Không kết nối được máy chủ."
    assert "Còn 4 phiếu chờ gửi." in failed.guidance and "giữ an toàn" in failed.guidance
    assert "Sent 12 answers" in am.describe_sync({"sent": 12, "error": None}, "en", pending=0).headline


def test_connection_test_and_enrolment_results():
    ok = am.describe_test({"ok": True, "message": "config fetched, token accepted in 42 ms"}, "vi")
    assert ok.ok and ok.headline == "Kết nối tốt: máy chủ nhận thiết bị này." and "42 ms" in ok.guidance
    assert "đăng ký" in am.describe_test({"ok": True, "message": "server reachable in 7 ms"}, "vi").guidance
    done = am.describe_enrol({"ok": True, "device_id": DEVICE_ID, "unit_code": "7201", "config": False}, "vi",
                             label="Quầy 1 (máy 3f2a9c1d)", server="https://hailong.bacninh.gov.vn")
    assert done.headline == "Đã đăng ký thiết bị: Quầy 1 (máy 3f2a9c1d)."
    assert "https://hailong.bacninh.gov.vn" in done.guidance and "Chưa tải được cấu hình" in done.guidance
    assert DEVICE_ID in done.details and DEVICE_ID not in done.headline + done.guidance
    assert am.describe_enrol({"ok": False, "kind": "code_missing"}, "vi").headline == "Chưa nhập mã đăng ký."
    job = am.describe_job("test_connection", {"ok": False, "error": "KeyError: 'paths'"}, "vi")
    assert job.kind == "unexpected" and "KeyError" in job.details and "KeyError" not in job.headline


def test_real_exceptions_of_the_sync_client_are_told(scripted):
    """Each exception class kiosk.sync raises, from real sockets, ends in a specific message."""
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(sync.SyncTemporaryError) as temporary:
        sync.ServerApi(dead, "t", timeout=(2, 2)).config(None)
    assert am.describe_error(str(temporary.value), "vi").kind == "refused"
    with pytest.raises(sync.EnrollError) as refused:
        sync.ServerApi(dead, timeout=(2, 2)).enroll("ABCD")
    said = am.describe_error(str(refused.value), "vi", "enrol", exception=am.exception_chain(refused.value))
    assert said.kind == "refused" and "EnrollError ← SyncTemporaryError ← ConnectionError" in said.details
    srv = scripted({"*": our_error(403, "device_revoked", "this device was revoked; enrol it again"),
                    ("POST", "/api/v1/enroll"): our_error(403, "enroll_code_invalid", "this enrolment code was already used")})
    with pytest.raises(sync.SyncAuthError) as auth:
        sync.ServerApi(srv.url, "t").config(None)
    assert am.describe_error(f"token refused: {auth.value}", "vi").kind == "token_revoked"
    with pytest.raises(sync.EnrollError) as used:
        sync.ServerApi(srv.url).enroll("ABCD")
    assert am.describe_error(str(used.value), "vi", "enrol").kind == "code_used"
    portal = scripted({"*": HTML_200})
    assert am.describe_test(sync.check_connection(portal.url), "vi").kind == "not_our_server"
    broken = scripted({"*": HTML_500})
    assert am.describe_test(sync.check_connection(broken.url, "t"), "vi").kind == "server_error"


def test_times_in_province_time_and_the_kiosk_label():
    from kiosk.clock import province_zone

    zone = province_zone(config())
    assert am.local_time("2026-11-28T01:15:00.000+00:00", zone) == "28/11/2026 08:15"
    assert am.local_time("2026-11-27T23:30:00Z", zone) == "28/11/2026 06:30"  # the day rolls over too
    assert am.local_time("2026-11-28T08:15:00.000+07:00", zone) == "28/11/2026 08:15"
    assert am.local_time(None, zone) == "chưa có" and am.local_time(None, zone, "en") == "never"
    assert am.local_time("2026-11-28T01:15:00+00:00", timezone(timedelta(hours=7))) == "28/11/2026 08:15"
    assert am.kiosk_label(None, UNIT["name"], DEVICE_ID) == "Bộ phận một cửa UBND xã Tân Tiến (máy 3f2a9c1d)"
    assert am.kiosk_label("Quầy 1", UNIT["name"], DEVICE_ID, "en") == "Quầy 1 (kiosk 3f2a9c1d)"
    assert am.is_later("2026-11-28T02:00:00+00:00", "2026-11-28T08:30:00+07:00")


# --- the screen against broken servers ------------------------------------------------------------

def test_nothing_listening_shows_vietnamese_guidance_and_no_traceback(qtbot, store, open_window):
    enrolled(store, f"http://127.0.0.1:{free_port()}")
    store.record_response(unit_code="7201", questionnaire=load_default_questionnaire().ref, answers={"overall": 2})
    window, worker, relay = open_window(store)
    with qtbot.waitSignal(relay.sig_report, timeout=15000) as first:
        worker.start()
    assert first.args[0]["error"]
    window.open_admin()
    admin = window.admin_screen
    with qtbot.waitSignal(relay.sig_report, timeout=15000):
        tap(qtbot, admin.sync_button)
    result = admin.result_panel
    assert result.headline_label.text() == "Không kết nối được máy chủ."
    assert "Kiểm tra địa chỉ máy chủ" in result.guidance_label.text() and "Còn 1 phiếu chờ gửi." in result.guidance_label.text()
    # The last error, kept in the store, reads the same way.
    assert admin.last_error_panel.headline_label.text() == "Không kết nối được máy chủ."
    assert admin.last_error_panel.title_label.text().startswith("Lỗi đồng bộ gần nhất · ")
    # The technical text only behind "Chi tiết".
    assert not result.details_label.isVisible() and result.details_button.text() == "Chi tiết"
    tap(qtbot, result.details_button)
    assert result.details_label.isVisible() and result.details_button.text() == "Ẩn chi tiết"
    assert "ConnectionError" in result.details_text() and "[Errno 111] Connection refused" in result.details_text()
    assert "Traceback" not in result.details_text()
    assert_for_staff(admin)

    # The connection test and an enrolment to the same dead address say so too.
    with qtbot.waitSignal(relay.sig_job, timeout=15000) as job:
        tap(qtbot, admin.test_button)
    assert job.args[0] == "test_connection"
    assert result.headline_label.text() == "Không kết nối được máy chủ."
    qtbot.keyClicks(admin.code_edit, "ABCD-EFGH")
    with qtbot.waitSignal(relay.sig_job, timeout=15000):
        tap(qtbot, admin.enrol_button)
    assert result.headline_label.text() == "Không kết nối được máy chủ."
    assert "EnrollError" in result.details_text()
    assert_for_staff(admin)
    assert store.get_meta("token") == "device-token-secret"  # a failed re-enrolment changes nothing


def test_a_server_answering_500_and_garbage(qtbot, store, open_window, scripted, tmp_path):
    broken = scripted({"*": HTML_500})
    enrolled(store, broken.url)
    window, worker, relay = open_window(store)
    window.open_admin()
    admin = window.admin_screen
    with qtbot.waitSignal(relay.sig_report, timeout=15000):
        worker.start()  # the first round: not asked for on this screen, so only the status tells it
    assert admin.last_error_panel.headline_label.text() == "Máy chủ đang gặp lỗi."
    with qtbot.waitSignal(relay.sig_report, timeout=15000):
        tap(qtbot, admin.sync_button)
    assert admin.result_panel.headline_label.text() == "Máy chủ đang gặp lỗi."
    assert "mã lỗi: http_500" in admin.result_panel.details_text() and "HTTP: 500" in admin.result_panel.details_text()
    # A portal answering HTML at another address: the connection test says it is not our server.
    portal = scripted({"*": HTML_200})
    admin.server_edit.clear()
    qtbot.keyClicks(admin.server_edit, portal.url)
    with qtbot.waitSignal(relay.sig_job, timeout=15000):
        tap(qtbot, admin.test_button)
    assert admin.result_panel.headline_label.text() == "Địa chỉ này không phải máy chủ Hài Lòng."
    assert admin.server_edit.text() == portal.url  # a status refresh never overwrites what staff typed
    assert_for_staff(admin)
    window.resize(1280, 800)
    tap(qtbot, admin.last_error_panel.details_button)
    assert_nothing_clipped(qtbot, admin)

    # The screenshot for the docs: the broken server's connection test, its details open, in Vietnamese.
    tap(qtbot, admin.last_error_panel.details_button)
    admin.server_edit.setText(broken.url)
    with qtbot.waitSignal(relay.sig_job, timeout=15000):
        tap(qtbot, admin.test_button)
    assert admin.result_panel.headline_label.text() == "Máy chủ đang gặp lỗi."
    tap(qtbot, admin.result_panel.details_button)
    admin.scroll.ensureWidgetVisible(admin.result_panel.details_label, 0, 0)
    assert_nothing_clipped(qtbot, admin)
    assert window.grab().save(str(screen_path(tmp_path, SCREENSHOT)))


def test_enrolment_refused_and_then_done(qtbot, store, open_window, scripted):
    srv = scripted({"*": HTML_500,
                    ("POST", "/api/v1/enroll"): our_error(403, "enroll_code_invalid", "this enrolment code has expired")})
    window, worker, relay = open_window(store)
    worker.start()
    window.open_admin()
    admin = window.admin_screen
    assert admin.enrol_label.text() == "Chưa đăng ký với máy chủ" and admin.enrol_button.text() == "Đăng ký"
    qtbot.keyClicks(admin.server_edit, srv.url)
    tap(qtbot, admin.enrol_button)  # no code typed: said at once, nothing sent
    assert admin.result_panel.headline_label.text() == "Chưa nhập mã đăng ký."
    qtbot.keyClicks(admin.code_edit, "abcd-efgh")
    with qtbot.waitSignal(relay.sig_job, timeout=15000):
        tap(qtbot, admin.enrol_button)
    assert admin.result_panel.headline_label.text() == "Mã đăng ký đã hết hạn."
    assert "trang «Mã đăng ký» của máy chủ" in admin.result_panel.guidance_label.text()

    srv.script[("POST", "/api/v1/enroll")] = (201, "application/json", {
        "device_id": DEVICE_ID, "token": "the-new-token", "unit_code": "7201", "server_time": "2026-11-28T01:15:00.000Z"})
    srv.script[("GET", "/api/v1/kiosk/config")] = (200, "application/json", config())
    with qtbot.waitSignal(relay.sig_job, timeout=15000) as job:
        tap(qtbot, admin.enrol_button)
    assert "token" not in job.args[1]  # the token never leaves the store
    assert store.get_meta("token") == "the-new-token"
    assert admin.result_panel.headline_label.text() == "Đã đăng ký thiết bị: Bộ phận một cửa UBND xã Tân Tiến (máy 3f2a9c1d)."
    assert admin.enrol_label.text() == "Đã đăng ký: Bộ phận một cửa UBND xã Tân Tiến (máy 3f2a9c1d) · mã đơn vị 7201"
    assert all("the-new-token" not in text and DEVICE_ID not in text for text in shown_texts(admin))
    assert DEVICE_ID in admin.enrol_panel.details_text()  # the full id, for support, behind "Chi tiết"
    assert admin.enrol_button.text() == "Đăng ký lại"


# --- province time, the label, kept aside --------------------------------------------------------

def test_times_are_shown_in_province_time(qtbot, tmp_path, open_window):
    utc = timezone.utc
    store = Store(tmp_path / "utc.sqlite3", clock=lambda: datetime(2026, 11, 28, 3, 5, tzinfo=utc))  # a box left on UTC
    try:
        store.set_meta(unit_code="7201", config=config())
        enrolled(store, "https://hailong.bacninh.gov.vn:8443")
        record = store.record_response(unit_code="7201", questionnaire=load_default_questionnaire().ref, answers={"overall": 1})
        store.take_batch(10)
        store.keep_aside(record["id"], "rejected: unknown_officer: officer cb-09 is not on the roster")
        store.set_meta(last_sync_at="2026-11-28T01:15:00.000+00:00", last_error="server 503: database_unavailable: down",
                       last_error_at="2026-11-27T23:30:00.000+00:00",
                       last_storage_error={"message": "database or disk is full", "at": "2026-11-28T02:00:00.000+00:00"})
        window, _, _ = open_window(store)
        window.open_admin()
        admin = window.admin_screen
        assert admin.last_sync_label.text() == "Đồng bộ thành công gần nhất: 28/11/2026 08:15"
        assert admin.last_error_panel.title_label.text() == "Lỗi đồng bộ gần nhất · 28/11/2026 06:30"
        assert admin.last_error_panel.headline_label.text() == "Máy chủ tạm thời không hoạt động."
        # A sync succeeded after that error: it is shown as past, with nothing to do.
        assert "không cần làm gì" in admin.last_error_panel.guidance_label.text()
        assert admin.storage_error_panel.title_label.text() == "Lỗi ghi dữ liệu gần nhất · 28/11/2026 09:00"
        assert admin.storage_error_panel.headline_label.text() == "Bộ nhớ của thiết bị đã đầy."
        assert "database or disk is full" in admin.storage_error_panel.details_text()
        assert f"#{record['seq']} · 28/11/2026 10:05 · cán bộ không có trong danh sách của máy chủ" in admin.kept_label.text()
        assert "unknown_officer" in admin.kept_panel.details_text()
        assert admin.enrol_label.text() == "Đã đăng ký: Bộ phận một cửa UBND xã Tân Tiến (máy 3f2a9c1d) · mã đơn vị 7201"
        assert DEVICE_ID not in "\n".join(shown_texts(admin))
        assert_for_staff(admin)
        # English second: the same page in English.
        window._apply_lang("en")
        window.refresh_admin()
        assert admin.last_sync_label.text() == "Last successful sync: 28/11/2026 08:15"
        assert admin.storage_error_panel.headline_label.text() == "The kiosk's storage is full."
    finally:
        store.close()


# --- no clipping, the keyboards, finger scrolling -------------------------------------------------

@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)], ids=["landscape", "portrait"])
def test_nothing_is_clipped_on_first_open(qtbot, store, open_window, size):
    enrolled(store, "https://hailong.bacninh.gov.vn:8443")
    store.note_error("network: SSLError: HTTPSConnectionPool(host='hailong.bacninh.gov.vn', port=8443): Max retries exceeded "
                     "with url: /api/v1/kiosk/responses/averyveryverylongpathwithoutanybreakopportunityatall_0123456789 "
                     "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                     "failed: certificate has expired (_ssl.c:1006)')))")
    store.set_meta(last_storage_error={"message": "database is locked", "at": "2026-11-28T02:00:00+00:00"})
    window, _, _ = open_window(store, size)
    window.open_admin()
    admin = window.admin_screen
    assert_nothing_clipped(qtbot, admin)
    # Open everything that can open: still nothing clipped, nothing wider than the page.
    tap(qtbot, admin.url_keyboard_button)
    for panel in (admin.enrol_panel, admin.last_error_panel, admin.storage_error_panel):
        tap(qtbot, panel.details_button)
    assert_nothing_clipped(qtbot, admin)
    assert admin.scroll.verticalScrollBar().width() >= style.min_touch_px(admin) or \
        not admin.scroll.verticalScrollBar().isVisible()


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)], ids=["landscape", "portrait"])
def test_the_url_keyboard_types_a_server_address(qtbot, store, open_window, size):
    window, _, _ = open_window(store, size)
    window.open_admin()
    admin = window.admin_screen
    tap(qtbot, admin.url_keyboard_button)
    keyboard = admin.url_keyboard
    assert keyboard.isVisible()
    touch = style.min_touch_px(keyboard)
    assert all(k.width() >= touch and k.height() >= touch for k in keyboard.keys.values())  # 15 mm
    right = keyboard.mapTo(admin.scroll.viewport(), QPoint(keyboard.width(), 0)).x()
    assert right <= admin.scroll.viewport().width()
    admin.server_edit.clear()
    for key in ["https://", *"hailong", ".", *"bacninh", ".gov.vn", ":", *"8443", "/"]:
        tap(qtbot, keyboard.keys[key])
    assert admin.server_edit.text() == "https://hailong.bacninh.gov.vn:8443/"
    tap(qtbot, keyboard.keys["⌫"])
    tap(qtbot, keyboard.keys[SHIFT])
    for key in "ab":
        tap(qtbot, keyboard.keys[key])
    assert admin.server_edit.text() == "https://hailong.bacninh.gov.vn:8443Ab"  # shift is for one letter
    # The code keyboard still types codes, and only one keyboard shows at a time.
    tap(qtbot, admin.keyboard_button)
    assert admin.keyboard.isVisible() and not keyboard.isVisible()
    for key in ("A", "B", "-", "7", "⌫", "9"):
        tap(qtbot, admin.keyboard.keys[key])
    assert admin.code_edit.text() == "AB-9"
    assert all(k.height() >= touch for k in admin.keyboard.keys.values())


def test_the_page_scrolls_by_dragging_a_finger(qtbot, store, open_window):
    window, _, _ = open_window(store, (800, 1280))
    window.open_admin()
    admin = window.admin_screen
    tap(qtbot, admin.url_keyboard_button)  # a long page
    bar = admin.scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    viewport = admin.scroll.viewport()
    x = viewport.width() // 2
    start = QPoint(x, viewport.height() - 100)
    qtbot.mousePress(viewport, LEFT, pos=start)
    for step in range(1, 21):
        qtbot.mouseMove(viewport, QPoint(x, start.y() - step * 30))
    qtbot.mouseRelease(viewport, LEFT, pos=QPoint(x, start.y() - 600))
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=3000)
    # Once the page came to rest (a tap on a moving page only stops it), taps reach the buttons.
    scroller = QScroller.scroller(viewport)
    qtbot.waitUntil(lambda: scroller.state() == QScroller.State.Inactive, timeout=5000)
    tap(qtbot, admin.url_keyboard_button)
    assert not admin.url_keyboard.isVisible()
