"""Who may call what: one access rule per route, checked by a gate before the handler runs.

Every route declares its rule when it is registered (:class:`Pages`), or, for protocol routes,
with :func:`rule`. ``create_app`` refuses to start when a route has none, and the authorization
matrix test walks ``app.routes`` to try each one as every role against another scope's objects.

Rules: ``public`` (anyone), ``device`` (a kiosk's Bearer token), ``api_client`` (a province system's
read-only API token, scoped like a user), ``user`` (any signed-in role;
objects are filtered or refused by scope in the handler through :func:`ensure_scope`),
``province_read`` (province admin and analyst), ``admin`` (province admin only). Every POST with a
session must carry the session's CSRF token in the form field ``csrf``.
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from sync_server.access_rules import ROLES_FOR, RULES, rule  # noqa: F401 - re-exported for the pages
from sync_server.accounts import in_scope, scope_codes, session_digest
from sync_server.storage import Session

SESSION_COOKIE = "hl_session"


class LoginRequired(Exception):
    """No live session: pages redirect to the login page."""


class Forbidden(Exception):
    """Signed in, but this role or scope may not do this."""

    def __init__(self, message_key: str = "err_forbidden"):
        super().__init__(message_key)
        self.message_key = message_key


class PageNotFound(Exception):
    pass


class FormError(Exception):
    """A form's input is wrong; shown to the person with a way back."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def current_session(request: Request) -> Session | None:
    if "hl_session" in request.scope.get("state", {}):
        return request.state.hl_session
    value = request.cookies.get(SESSION_COOKIE)
    session = None
    if value:
        storage = request.app.state.hailong.storage
        session = storage.session(session_digest(value), int(time.time() * 1000))
    request.state.hl_session = session
    return session


def _gate(rule_name: str):
    allowed = ROLES_FOR[rule_name]

    async def gate(request: Request) -> None:
        session = current_session(request)
        if session is None:
            raise LoginRequired()
        if request.method not in ("GET", "HEAD"):
            form = await request.form()
            sent = form.get("csrf")
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                raise Forbidden("err_csrf")
        if session.user.role not in allowed:
            raise Forbidden()
        request.state.scope_codes = scope_codes(request.app.state.hailong.storage, session.user)
    gate.__name__ = f"gate_{rule_name}"
    return gate


GATES = {name: _gate(name) for name in ROLES_FOR}


class Pages:
    """An APIRouter whose routes must each name an access rule."""

    def __init__(self) -> None:
        self.router = APIRouter()

    def get(self, path: str, access: str):
        return self._add(path, "GET", access)

    def post(self, path: str, access: str):
        return self._add(path, "POST", access)

    def _add(self, path: str, method: str, access: str):
        assert access in RULES and access not in ("device", "api_client"), access

        def register(fn):
            fn.access = access
            deps = [Depends(GATES[access])] if access in GATES else []
            self.router.add_api_route(path, fn, methods=[method], dependencies=deps, include_in_schema=False,
                                      response_class=HTMLResponse)
            return fn
        return register


def viewer(request: Request) -> Session:
    """The signed-in session (after the gate)."""
    session = current_session(request)
    if session is None:
        raise LoginRequired()
    return session


def scope(request: Request) -> set[str] | None:
    """Unit codes the signed-in person may see; None for the whole province."""
    # Only the gate sets it; a route without a gate sees nothing rather than everything.
    return getattr(request.state, "scope_codes", set()) if current_session(request) else set()


def ensure_scope(request: Request, unit_code: str | None) -> None:
    """Refuse (403) an object whose unit is outside the viewer's scope."""
    if not in_scope(scope(request), unit_code):
        raise Forbidden("err_scope")


def confirmed(request: Request, value: str | None) -> None:
    """A destructive action goes ahead only with its confirmation box ticked (``confirm=1``, the box names
    what the action affects); otherwise 400 with the page's way back, and nothing changed (issue 15)."""
    if value != "1":
        from sync_server.web.i18n import request_lang, translator

        raise FormError(translator(request_lang(request))("err_confirm_needed"))


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


__all__ = ["Pages", "rule", "viewer", "scope", "ensure_scope", "confirmed", "LoginRequired", "Forbidden", "PageNotFound", "FormError",
           "HTMLResponse", "client_ip"]
