"""Security headers on every response (pages, API, static files, errors), and ``Secure`` cookies over HTTPS.

One ASGI wrapper around the whole app, outside Starlette's error middleware, so even a 500
leaves with the headers. ``request.url.scheme`` is ``https`` when the client spoke HTTPS to us or
to the proxy in front (uvicorn applies ``X-Forwarded-Proto`` from the addresses it trusts,
``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default: see docs/deploy-server.md).

Pages load nothing from elsewhere (no CDN): scripts, styles and images come from this origin.
The exceptions are written out below, each for a reason in the templates.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# error.html's "back" link; a javascript: URL runs only when its hash is listed with 'unsafe-hashes'.
_BACK_LINK = _hash("javascript:history.back()")

# HTML: one nonce per response for the inline scripts of the templates (phone_form.html's
# show_if script carries data, so it cannot be hashed once); style attributes are used throughout
# the templates and the inline SVG charts, and cannot run code, hence 'unsafe-inline' for styles
# only; officer photos are data: URLs.
PAGE_POLICY = ("default-src 'self'; script-src 'self' 'nonce-{nonce}' 'unsafe-hashes' " + _BACK_LINK + "; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
# Everything else (JSON, CSV, XLSX, CSS, the OpenAPI text): nothing may run or load if opened as a page.
OTHER_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

COMMON = (
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"x-content-type-options", b"nosniff"),
    # No Referer at all: the QR form's address carries the point and may carry a dossier token.
    (b"referrer-policy", b"no-referrer"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")  # one year; over HTTPS only (RFC 6797 §7.2)


def csp_nonce(request: Request) -> str:
    """The nonce of this response's Content-Security-Policy, for ``<script nonce="...">`` in templates."""
    return request.scope.get("state", {}).get("csp_nonce", "")


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_secure(request: Request) -> bool:
    """Whether a cookie set on this response must be ``Secure``: over HTTPS, or forced by ``cookie_secure``."""
    return is_https(request) or bool(request.app.state.hailong.settings.cookie_secure)


class SecurityHeaders:
    """ASGI wrapper: adds the headers above (a header the route set itself is kept) and marks
    every ``Set-Cookie`` ``Secure`` over HTTPS, whichever module set the cookie."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                extra = [(b"content-security-policy",
                          (PAGE_POLICY.format(nonce=nonce) if html else OTHER_POLICY).encode()), *COMMON]
                if https:
                    extra.append(HSTS)
                    cookies = headers.getlist("set-cookie")
                    if any("secure" not in _attributes(c) for c in cookies):
                        del headers["set-cookie"]
                        for cookie in cookies:
                            headers.append("set-cookie", cookie if "secure" in _attributes(cookie) else cookie + "; Secure")
                for name, value in extra:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _attributes(cookie: str) -> set[str]:
    """Lower-case attribute names of a Set-Cookie value (after the name=value pair)."""
    return {part.split("=", 1)[0].strip().lower() for part in cookie.split(";")[1:]}


def install(app) -> None:
    """Wrap the whole middleware stack (Starlette builds it on the first request), so that the
    500 answers of its outermost error middleware get the headers too."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())
