"""The kiosk's local API for counter systems (issue 14): "dossier X was just returned here". No Qt.

A one-stop or queue system at the counter calls ``POST /v1/dossier`` when it hands a citizen their
result; the next rating started at this kiosk within the config's ``dossier_link_s`` (300 s)
carries that dossier's code (:meth:`kiosk.answering.Answering.attach_dossier`, source ``counter``).
``GET /v1/status`` says whether a dossier waits, never which. docs/kiosk.md has the full text.

Off unless the kiosk's own settings give a port (``local_api_port``) and a token of at least 16
characters (``local_api_token``); it listens on ``local_api_bind`` (``127.0.0.1``). Whatever the
bind, it answers only loopback and private LAN peers, only with the token, only small JSON bodies,
and every error in the one shape ``{"error": {"code", "message"}}`` with stable codes.

It is a listener, not off-thread work of the UI: the stdlib's ``ThreadingHTTPServer`` in a daemon
thread, touching nothing but the thread-safe waiting slot of :class:`kiosk.dossier_link.DossierLinks`
(through ``Answering``), so the 202 is sent only once the link is in place and a face tapped
after it carries the code. It never touches a widget or the store. The code is never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from kiosk.dossier_link import COUNTER

log = logging.getLogger(__name__)

MAX_BODY = 4096          # a dossier code and a counter name fit many times over
DRAIN_MAX = 65536        # a larger refused body is read this far, so the peer gets the 413, not a reset
MIN_TOKEN = 16
COUNTER_MAX = 64
REQUEST_TIMEOUT_S = 5.0  # a peer that stalls mid-request is dropped after this long
FIELDS = frozenset(("dossier_code", "counter"))

# Loopback and private LAN ranges (explicit: ``ipaddress.is_private`` changed between Python versions).
LAN_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))

ERRORS: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "the body is not valid JSON (UTF-8)"),
    "invalid_body": (400, 'the body must be a JSON object {"dossier_code": "…", "counter": "…"}'),
    "unknown_field": (400, "the body has a field this kiosk does not know"),
    "missing_field": (400, "a required field is missing"),
    "invalid_field": (400, "a field has an invalid value"),
    "pattern_mismatch": (400, "dossier_code is not a receipt code of this unit (the unit's dossier_pattern setting)"),
    "bad_request": (400, "the request could not be read"),
    "missing_token": (401, "this call needs 'Authorization: Bearer <local API token>'"),
    "invalid_token": (401, "the local API token is not this kiosk's"),
    "forbidden_peer": (403, "only loopback and private LAN addresses may call this kiosk"),
    "not_found": (404, "no such resource; see POST /v1/dossier and GET /v1/status"),
    "method_not_allowed": (405, "method not allowed here"),
    "length_required": (411, "send the body with a Content-Length header"),
    "body_too_large": (413, f"the body is larger than {MAX_BODY} bytes"),
    "internal_error": (500, "internal error; the kiosk's log has the details"),
}


class LocalApiError(Exception):
    """Answer with ``code`` from :data:`ERRORS` (its status), with an optional more precise message."""

    def __init__(self, code: str, message: str | None = None, headers: dict[str, str] | None = None):
        self.code = code
        self.status, default = ERRORS[code]
        self.message = message or default
        self.headers = headers or {}
        super().__init__(self.message)


def error_body(code: str, message: str) -> dict:
    """The one error shape."""
    return {"error": {"code": code, "message": message}}


def lan_peer(host: str) -> bool:
    """True for a loopback or private LAN address (an IPv4-mapped IPv6 address counts as its IPv4)."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return any(ip.version == net.version and ip in net for net in LAN_NETWORKS)


def parse_dossier_body(raw: bytes) -> tuple[str, str | None]:
    """``(dossier_code, counter)`` from a ``POST /v1/dossier`` body; raises :class:`LocalApiError`.

    The code's own checks (valid, the unit's pattern) are the logic's: :meth:`Answering.attach_dossier`.
    """
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LocalApiError("invalid_json") from None
    if not isinstance(body, dict):
        raise LocalApiError("invalid_body")
    unknown = sorted(k for k in body if k not in FIELDS)
    if unknown:
        raise LocalApiError("unknown_field", f"unknown field {unknown[0]!r}; the fields are dossier_code and counter")
    if "dossier_code" not in body:
        raise LocalApiError("missing_field", "field 'dossier_code' is required")
    code = body["dossier_code"]
    if not isinstance(code, str):
        raise LocalApiError("invalid_field", "dossier_code must be a string")
    counter = body.get("counter")
    if counter is not None and (not isinstance(counter, str) or not 0 < len(counter.strip()) <= COUNTER_MAX
                                or not counter.isprintable()):
        raise LocalApiError("invalid_field", f"counter must be a short text (1 to {COUNTER_MAX} printable characters) or absent")
    return code, counter.strip() if counter else None


class _Handler(BaseHTTPRequestHandler):
    server_version = "HaiLong-kiosk"
    sys_version = ""
    timeout = REQUEST_TIMEOUT_S
    server: "_Server"

    # --- routing ----------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    def _dispatch(self) -> None:
        api = self.server.api
        try:
            body_error = None
            try:  # read first: a refused request then gets its answer, not a connection reset
                raw, too_large = self._read_body()
            except LocalApiError as exc:
                raw, too_large, body_error = b"", False, exc
            if not lan_peer(self.client_address[0]):
                raise LocalApiError("forbidden_peer")
            path = urlsplit(self.path).path
            routes = {"/v1/dossier": ("POST", self._post_dossier), "/v1/status": ("GET", self._get_status)}
            if path not in routes:
                raise LocalApiError("not_found")
            method, handler = routes[path]
            if self.command != method:
                raise LocalApiError("method_not_allowed", f"{path} takes {method}", {"Allow": method})
            api.check_token(self.headers.get("Authorization"))
            if body_error is not None:
                raise body_error
            if too_large:
                raise LocalApiError("body_too_large")
            status, body = handler(raw)
            self._send(status, body)
        except LocalApiError as exc:
            self._send(exc.status, error_body(exc.code, exc.message), exc.headers)
        except Exception:  # noqa: BLE001 - one bad request never stops the listener
            log.exception("local API: %s %s failed", self.command, urlsplit(self.path).path)
            self._send(500, error_body("internal_error", ERRORS["internal_error"][1]))

    def _read_body(self) -> tuple[bytes, bool]:
        """The body (at most :data:`MAX_BODY` bytes) and whether it was larger. A POST needs a length."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise LocalApiError("length_required", "chunked bodies are not taken: send a Content-Length")
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            if self.command == "POST":
                raise LocalApiError("length_required")
            return b"", False
        try:
            length = int(length_header)
        except ValueError:
            raise LocalApiError("bad_request", "Content-Length is not a number") from None
        if length < 0:
            raise LocalApiError("bad_request", "Content-Length is negative")
        if length > MAX_BODY:
            if length <= DRAIN_MAX:
                self.rfile.read(length)
            else:
                self.close_connection = True
            return b"", True
        return self.rfile.read(length), False

    def _post_dossier(self, raw: bytes) -> tuple[int, dict]:
        code, counter = parse_dossier_body(raw)
        return 202, self.server.api.announce(code, counter)

    def _get_status(self, _raw: bytes) -> tuple[int, dict]:
        return 200, self.server.api.status()

    # --- answering --------------------------------------------------------------------------------

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="hailong-kiosk"')
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class's own refusals (a bad request line, an unsupported method) in our one shape.
        self.close_connection = True
        if code == 501:
            status, body = 405, error_body("method_not_allowed", ERRORS["method_not_allowed"][1])
        else:
            status, body = code, error_body("bad_request", message or ERRORS["bad_request"][1])
        try:
            self._send(status, body)
        except OSError:
            pass

    def version_string(self) -> str:
        return self.server_version  # no Python version on the wire

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
        # The request line and status only: never a body, a header or a token.
        log.debug("local API %s: " + format, self.client_address[0], *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    api: "LocalApi"

    def __init__(self, address: tuple[str, int], api: "LocalApi"):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.api = api
        super().__init__(address, _Handler)


class LocalApi:
    """The listener: :meth:`start` binds and serves in a daemon thread, :meth:`stop` ends it.

    ``answering`` is the kiosk's :class:`kiosk.answering.Answering` (only its thread-safe dossier
    methods are called). ``port`` 0 lets the system choose (tests); the setting's 0 means off
    (:func:`serve`).
    """

    def __init__(self, answering, *, token: str, bind: str = "127.0.0.1", port: int = 0):
        if len(token or "") < MIN_TOKEN:
            raise ValueError(f"the local API needs a token of at least {MIN_TOKEN} characters")
        self.answering = answering
        self._token = token.encode("utf-8")
        self.bind = bind
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{self.port}"

    def start(self) -> int:
        """Bind and serve; returns the port. Raises ``OSError`` when the address cannot be bound."""
        self._server = _Server((self.bind, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="hailong-local-api", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving and close the socket (a request in progress is cut off)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # --- what the requests do (run on the listener's threads) --------------------------------------

    def check_token(self, header: str | None) -> None:
        scheme, _, value = (header or "").partition(" ")
        if not header or scheme.lower() != "bearer" or not value.strip():
            raise LocalApiError("missing_token")
        if not hmac.compare_digest(value.strip().encode("utf-8"), self._token):
            raise LocalApiError("invalid_token")

    def announce(self, code: str, counter: str | None) -> dict:
        """Let the next rating started here carry ``code``; the 202 body."""
        step = self.answering.attach_dossier(code, COUNTER, counter=counter)
        if step.kind != "dossier_attached":
            if step.reason == "pattern":
                raise LocalApiError("pattern_mismatch")
            raise LocalApiError("invalid_field", "dossier_code must be a receipt's code: 1 to 64 letters, digits or . _ / -")
        log.info("local API: a dossier was announced%s; it waits %.0f s for the next rating",
                 f" at counter {counter}" if counter else "", step.expires_in_s or 0)
        return {"status": "waiting", "expires_in_s": int(round(step.expires_in_s or 0))}

    def status(self) -> dict:
        """Whether a dossier waits for the next rating, and for how long; never which one."""
        left = self.answering.dossier_waiting(COUNTER)
        return {"waiting": left is not None, "expires_in_s": None if left is None else int(round(left))}


def serve(settings, answering) -> LocalApi | None:
    """Start the local API as the kiosk's settings say, or return None (off, or refused: logged).

    Off with ``local_api_port`` 0 (the default). With a port but no token (or one shorter than
    16 characters) it refuses to start: an open door to the ratings' dossier links is worse than
    none. A port already taken is logged too; the kiosk runs on without the API either way.
    """
    port = settings.local_api_port or 0
    if not port:
        return None
    token = settings.local_api_token or ""
    if len(token) < MIN_TOKEN:
        log.error("local API NOT started: local_api_port is %d but local_api_token is %s; set a token of at least %d "
                  "characters (settings.json in the data folder, or HAILONG_KIOSK_LOCAL_API_TOKEN)",
                  port, "missing" if not token else "too short", MIN_TOKEN)
        return None
    api = LocalApi(answering, token=token, bind=settings.local_api_bind or "127.0.0.1", port=port)
    try:
        api.start()
    except OSError as exc:
        log.error("local API NOT started: cannot listen on %s: %s", api.url, exc)
        return None
    log.info("local API listening on %s", api.url)
    return api
