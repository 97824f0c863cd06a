"""TLS in government networks (no Qt): which CAs the kiosk trusts, the proxy it goes through, the pin.

Three kiosk settings, all optional (docs/install-kiosk.md, "TLS"):

- ``ca_bundle``: a PEM file of CA certificates trusted **in addition to** the public roots requests
  ships (certifi), e.g. the Vietnam National Root CA and the government's issuing CA. Appended, not
  instead: a province server may move between a certificate of the Government CA and a commercial
  one (or a relay at the office may use another), and a kiosk installed once must keep syncing
  without a visit. Whoever wants the kiosk to trust one server only adds ``tls_pin_sha256``, which
  is the stricter tool anyway (it refuses even a valid certificate of another key).
- ``https_proxy``: the proxy for ``https://`` server addresses (``http://HOST:PORT``, with
  ``user:password@`` when the proxy asks). Without it, requests' own rules: the environment's
  ``HTTPS_PROXY`` and ``NO_PROXY``.
- ``tls_pin_sha256``: one or more SHA-256 pins of the server's own (leaf) certificate, separated by
  commas or spaces (the current key and the next one, during a renewal): ``sha256/BASE64`` of the
  SubjectPublicKeyInfo, as curl's ``--pinnedpubkey`` writes it, or 64 hex digits (colons allowed)
  of either the SubjectPublicKeyInfo or the whole certificate (``openssl x509 -fingerprint
  -sha256``). Checked on every new connection right after the TLS handshake, before a byte of the
  request (the device token) is sent, and in addition to the usual verification; with
  ``verify_tls`` off, the pin alone decides (a self-signed server).

Failures surface as :class:`requests.exceptions.SSLError` whose text carries ``[tls:pin]`` or
``[tls:bundle]`` when they are ours; :func:`reason_of` names the kind of any TLS failure and
:func:`explain` says it in Vietnamese (or English) for the admin screen and the self-test.
:mod:`kiosk.sync` raises them as :class:`kiosk.sync.SyncTlsError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import ssl
from dataclasses import dataclass

import certifi
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger(__name__)

PIN_MARK, BUNDLE_MARK = "[tls:pin]", "[tls:bundle]"
REASONS = ("untrusted", "expired", "hostname", "pin", "bundle", "not_https", "other")


# --- pins ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pin:
    """One SHA-256 pin: ``spki`` (``sha256/BASE64``: the public key only) or ``any`` (hex: key or certificate)."""

    digest: bytes
    kind: str

    def matches(self, cert_der: bytes) -> bool:
        if self.digest == hashlib.sha256(spki_der(cert_der)).digest():
            return True
        return self.kind == "any" and self.digest == hashlib.sha256(cert_der).digest()


def parse_pins(text: str | None) -> tuple[Pin, ...]:
    """The pins of a ``tls_pin_sha256`` value; raises ValueError naming the one that is not a pin."""
    pins = []
    for item in re.split(r"[,\s]+", (text or "").strip()):
        if not item:
            continue
        if item.lower().startswith("sha256/"):
            try:
                digest = base64.b64decode(item[7:], validate=True)
            except (binascii.Error, ValueError):
                digest = b""
            if len(digest) == 32:
                pins.append(Pin(digest, "spki"))
                continue
        else:
            hexed = item.replace(":", "")
            if re.fullmatch(r"[0-9A-Fa-f]{64}", hexed):
                pins.append(Pin(bytes.fromhex(hexed), "any"))
                continue
        raise ValueError(f"not a SHA-256 pin: {item[:80]!r} (write sha256/BASE64 of the public key, or 64 hex digits)")
    return tuple(pins)


def valid_pins(text: str) -> bool:
    """For the setting's check: at least one pin, and every item one."""
    try:
        return bool(parse_pins(text))
    except ValueError:
        return False


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """One DER element at ``pos``: ``(tag, start of its content, end)``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def spki_der(cert_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of an X.509 certificate (DER), as it stands in the certificate.

    Certificate = SEQUENCE { tbsCertificate, … }; tbsCertificate = SEQUENCE { [0] version (optional),
    serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, … } (RFC 5280, 4.1):
    a walk over seven elements, so no X.509 library is needed for it.
    """
    _, cert_start, _ = _tlv(cert_der, 0)
    _, pos, tbs_end = _tlv(cert_der, cert_start)
    fields = []
    while pos < tbs_end and len(fields) < 7:
        tag, start, end = _tlv(cert_der, pos)
        fields.append((tag, pos, end))
        pos = end
    if fields and fields[0][0] == 0xA0:  # the explicit version
        fields = fields[1:]
    if len(fields) < 6 or fields[5][0] != 0x30:
        raise ValueError("not an X.509 certificate")
    _, start, end = fields[5]
    return cert_der[start:end]


def spki_pin(cert_der: bytes) -> str:
    """``sha256/BASE64`` of the certificate's public key: what ``tls_pin_sha256`` takes."""
    return "sha256/" + base64.b64encode(hashlib.sha256(spki_der(cert_der)).digest()).decode("ascii")


def _check_pins(sock, pins: tuple[Pin, ...]) -> None:
    der = sock.getpeercert(binary_form=True)
    if der and any(p.matches(der) for p in pins):
        return
    sent = spki_pin(der) if der else "no certificate"
    # Worded so the admin screen's catalogue (kiosk/admin_messages.py) reads it as a TLS failure of
    # its own ("does not match" would read as a host name mismatch).
    raise ssl.SSLError(f"{PIN_MARK} certificate refused: the server's key ({sent}) is none of the pinned ones "
                       f"(tls_pin_sha256)")


# --- the session -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TlsConfig:
    """What the kiosk's settings say about TLS (see the module's docstring)."""

    verify: bool = True
    ca_bundle: str | None = None
    https_proxy: str | None = None
    pins: tuple[Pin, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> "TlsConfig":
        return cls(verify=bool(getattr(settings, "verify_tls", True)), ca_bundle=getattr(settings, "ca_bundle", None) or None,
                   https_proxy=getattr(settings, "https_proxy", None) or None,
                   pins=parse_pins(getattr(settings, "tls_pin_sha256", None)))

    def describe(self) -> str:
        """One line for the self-test: what is configured."""
        parts = [f"CA: public roots + {self.ca_bundle}" if self.ca_bundle else "CA: public roots (certifi)"]
        if not self.verify:
            parts.append("verification OFF" + (" (the pin decides)" if self.pins else ""))
        if self.pins:
            parts.append(f"{len(self.pins)} pin(s)")
        parts.append(f"proxy {redact_proxy(self.https_proxy)}" if self.https_proxy else "proxy from the environment, if any")
        return ", ".join(parts)


def redact_proxy(url: str | None) -> str:
    """The proxy's address without its password."""
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url or "")


def load_bundle(path: str) -> ssl.SSLContext:
    """A verifying context trusting certifi's roots and the PEM file at ``path``; raises OSError/ssl.SSLError.

    ``load_verify_locations`` refuses a file without any certificate, so an empty or DER file is
    caught here, at the first connection, with the path in the message.
    """
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=path)
    return context


class GovernmentTlsAdapter(HTTPAdapter):
    """requests' adapter with the kiosk's CA bundle (appended to certifi's) and certificate pins.

    The bundle goes in as the pools' ``ssl_context`` (pools behind a proxy included: the pool
    arguments are the same for both); the pin is checked by the HTTPS connection class the pools
    use, right after the handshake, so it covers direct connections and CONNECT tunnels alike.
    """

    def __init__(self, config: TlsConfig, **kwargs):
        self.tls_config = config  # (requests' adapter has a ``config`` of its own)
        self._context: ssl.SSLContext | None = None
        self._bundle_error: str | None = None
        if config.ca_bundle:
            try:
                self._context = load_bundle(config.ca_bundle)
            except (OSError, ssl.SSLError, ValueError) as exc:
                # Not raised here: a kiosk must start (and say what is wrong) even with a broken file.
                self._bundle_error = f"{BUNDLE_MARK} cannot load ca_bundle {config.ca_bundle}: {exc.__class__.__name__}: {exc}"
                log.error("TLS: %s", self._bundle_error)
        super().__init__(**kwargs)

    def _pool_classes(self) -> dict:
        if not self.tls_config.pins:
            return {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}
        pins = self.tls_config.pins

        class PinnedConnection(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                try:
                    _check_pins(self.sock, pins)
                except BaseException:
                    self.close()
                    raise

        class PinnedPool(HTTPSConnectionPool):
            ConnectionCls = PinnedConnection

        return {"http": HTTPConnectionPool, "https": PinnedPool}

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes()

    def proxy_manager_for(self, proxy: str, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pool_classes()
        return manager

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if self._context is not None and verify is not False and host_params.get("scheme") == "https":
            pool_kwargs["ssl_context"] = self._context
        return host_params, pool_kwargs

    def cert_verify(self, conn, url, verify, cert) -> None:
        super().cert_verify(conn, url, verify, cert)
        if self._context is not None and verify is True and url.lower().startswith("https"):
            # Our context already holds certifi's roots and the bundle: nothing more to load per connection.
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def send(self, request, *args, **kwargs):
        if self._bundle_error and request.url.lower().startswith("https"):
            raise requests.exceptions.SSLError(self._bundle_error, request=request)
        return super().send(request, *args, **kwargs)


def session_for(settings=None, *, config: TlsConfig | None = None) -> requests.Session:
    """A requests session that speaks TLS as the kiosk's settings say (CA bundle, proxy, pins).

    With neither bundle, proxy nor pin it is a plain session (requests' defaults, the environment's
    proxies). The caller still passes ``verify`` per request (``verify_tls``).
    """
    config = config or (TlsConfig.from_settings(settings) if settings is not None else TlsConfig())
    session = requests.Session()
    if config.ca_bundle or config.pins:
        session.mount("https://", GovernmentTlsAdapter(config))
    if config.https_proxy:
        session.proxies["https"] = config.https_proxy  # wins over HTTPS_PROXY from the environment
    return session


# --- what a failure means ------------------------------------------------------------------------------

_REASON_MARKS = (
    ("pin", (PIN_MARK,)),
    ("bundle", (BUNDLE_MARK,)),
    ("expired", ("certificate has expired", "not yet valid", "cert_has_expired")),
    ("hostname", ("hostname mismatch", "ip address mismatch", "doesn't match", "does not match")),
    ("untrusted", ("unable to get local issuer", "unable to get issuer", "self-signed", "self signed", "unknown ca",
                   "certificate verify failed", "certificate_verify_failed")),
    ("not_https", ("wrong version number", "wrong_version_number", "record layer failure", "packet length too long")),
)


def reason_of(text: str) -> str:
    """The kind of a TLS failure from its text: one of :data:`REASONS`."""
    low = (text or "").lower()
    for reason, marks in _REASON_MARKS:
        if any(m.lower() in low for m in marks):
            return reason
    return "other"


VI = {
    "untrusted": ("Không xác minh được chứng thư số của máy chủ: chứng thư do một tổ chức chưa được kiosk tin cậy cấp.",
                  "Nếu máy chủ dùng chứng thư số của Chính phủ, cài chứng thư gốc (Vietnam National Root CA) và chứng thư "
                  "của tổ chức cấp lên kiosk: đặt «ca_bundle» trong settings.json trỏ tới tệp PEM (docs/install-kiosk.md, "
                  "mục TLS). Không tắt việc kiểm tra chứng thư."),
    "expired": ("Không xác minh được chứng thư số của máy chủ: chứng thư đã hết hạn hoặc chưa có hiệu lực.",
                "Kiểm tra ngày giờ của kiosk trước (đồng hồ sai cũng gây lỗi này); nếu ngày giờ đúng, báo quản trị máy chủ "
                "gia hạn chứng thư."),
    "hostname": ("Không xác minh được chứng thư số của máy chủ: chứng thư không mang tên máy chủ đã nhập.",
                 "Nhập đúng tên miền ghi trên chứng thư (ví dụ https://hailong.bacninh.gov.vn), không dùng địa chỉ IP."),
    "pin": ("Chứng thư số của máy chủ không đúng chứng thư đã ghim (tls_pin_sha256): kiosk từ chối kết nối.",
            "Máy chủ có thể vừa thay chứng thư, hoặc có thiết bị chen giữa (proxy giải mã HTTPS). Hỏi quản trị máy chủ mã "
            "ghim mới rồi sửa «tls_pin_sha256» trong settings.json."),
    "bundle": ("Không đọc được tệp chứng thư gốc (ca_bundle) đã khai báo trên kiosk.",
               "Kiểm tra đường dẫn «ca_bundle» trong settings.json, tệp ở dạng PEM (bắt đầu bằng -----BEGIN CERTIFICATE-----) "
               "và tài khoản hailong-kiosk đọc được tệp."),
    "not_https": ("Không xác minh được chứng thư số của máy chủ: cổng này không dùng HTTPS.",
                  "Kiểm tra số cổng; nếu máy chủ chỉ dùng http://, sửa địa chỉ cho đúng."),
    "other": ("Không xác minh được chứng thư số của máy chủ.",
              "Kiểm tra ngày giờ của kiosk, địa chỉ máy chủ và cấu hình «ca_bundle»; nếu vẫn lỗi, báo quản trị máy chủ, "
              "kèm phần Chi tiết."),
}
EN = {
    "untrusted": ("The server's certificate cannot be verified: its issuer is not trusted by the kiosk.",
                  "If the server uses a Government CA certificate, install the root (Vietnam National Root CA) and the issuing "
                  "CA on the kiosk: set \"ca_bundle\" in settings.json to the PEM file (docs/install-kiosk.md, TLS). Do not "
                  "turn certificate checks off."),
    "expired": ("The server's certificate cannot be verified: it has expired or is not valid yet.",
                "Check the kiosk's date and time first (a wrong clock causes this too); if they are right, ask the server's "
                "administrator to renew the certificate."),
    "hostname": ("The server's certificate cannot be verified: it does not carry the server name typed.",
                 "Type the domain name on the certificate (e.g. https://hailong.bacninh.gov.vn), not an IP address."),
    "pin": ("The server's certificate is not the pinned one (tls_pin_sha256): the kiosk refuses to connect.",
            "The server may have a new certificate, or something sits in between (an HTTPS-inspecting proxy). Ask the "
            "server's administrator for the new pin and correct \"tls_pin_sha256\" in settings.json."),
    "bundle": ("The CA file set on the kiosk (ca_bundle) cannot be read.",
               "Check the \"ca_bundle\" path in settings.json, that the file is PEM (starts with -----BEGIN CERTIFICATE-----) "
               "and that the hailong-kiosk account can read it."),
    "not_https": ("The server's certificate cannot be verified: this port does not speak HTTPS.",
                  "Check the port; if the server only uses http://, correct the address."),
    "other": ("The server's certificate cannot be verified.",
              "Check the kiosk's date and time, the server address and \"ca_bundle\"; if it still fails, tell the server's "
              "administrator, with the details."),
}
_TLS_HINTS = ("sslerror", "[ssl", "certificate", "[tls:", "ssl:")


def is_tls_failure(text: str | None) -> bool:
    low = (text or "").lower()
    return any(h in low for h in _TLS_HINTS)


def explain(text: str | None, lang: str = "vi") -> tuple[str, str] | None:
    """``(headline, guidance)`` for a TLS failure in a stored error text, else None."""
    if not is_tls_failure(text):
        return None
    return (EN if lang == "en" else VI)[reason_of(text or "")]
