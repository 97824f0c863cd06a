"""Login, logout, language toggle."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import datetime, timezone

from fastapi import Form, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from sync_server import accounts
from sync_server.web.access import SESSION_COOKIE, Pages, client_ip, viewer
from sync_server.web.headers import cookie_secure
from sync_server.web.i18n import COOKIE as LANG_COOKIE
from sync_server.web.i18n import LANGS
from sync_server.web.render import render

pages = Pages()
PRE_CSRF_COOKIE = "hl_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@pages.get("/login", access="public")
def login_form(request: Request, next: str = "/"):
    # Double-submit token for the login form itself (there is no session yet to hold one).
    token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", next=_safe_next(next), login_csrf=token, error=None)
    _set_cookie(request, response, PRE_CSRF_COOKIE, token, max_age=3600)
    return response


@pages.post("/login", access="public")
async def login_submit(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
                       next: str = Form("/")):
    # Async so that a slowed-down wrong answer waits on the event loop, not in a worker thread
    # (a flood of wrong passwords must not tie up the thread pool); the blocking work runs in threads.
    state = request.app.state.hailong
    settings = state.settings
    cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        return await run_in_threadpool(_login_error, request, "err_csrf", next, 403)
    window_s = settings.login_window_min * 60
    result = await run_in_threadpool(accounts.login, state.storage, username, password, client_ip(request),
                                     max_failures=settings.login_max_failures, window_s=window_s,
                                     address_max_failures=settings.login_address_max_failures)
    if result == "throttled":
        return await run_in_threadpool(_login_error, request, "err_throttled", next, 429)
    if result is None:
        delay = await run_in_threadpool(accounts.wrong_password_delay, state.storage, username,
                                        settings.login_max_failures, window_s, settings.login_delay_max_s)
        if delay:
            await asyncio.sleep(delay)
        return await run_in_threadpool(_login_error, request, "err_login", next, 401)
    return await run_in_threadpool(_signed_in, request, result, next)


def _signed_in(request: Request, user, next: str):
    state = request.app.state.hailong
    settings = state.settings
    now = datetime.now(timezone.utc)
    new = accounts.open_session(state.storage, user, settings.session_ttl_h * 3600, client_ip(request))
    state.storage.update_user(user.id, last_login_at=now.isoformat(timespec="seconds"))
    state.storage.audit(now, user, "login", ip=client_ip(request))
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, new.cookie_value, max_age=int(settings.session_ttl_h * 3600))
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return response


def _login_error(request: Request, key: str, next: str, status: int):
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status_code=status, next=_safe_next(next), login_csrf=token, error=key)
    _set_cookie(request, response, PRE_CSRF_COOKIE, token, max_age=3600)
    return response


def _set_cookie(request: Request, response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=cookie_secure(request))


@pages.post("/logout", access="user")
def logout(request: Request):
    session = viewer(request)
    storage = request.app.state.hailong.storage
    storage.end_session(accounts.session_digest(request.cookies.get(SESSION_COOKIE, "")))
    storage.audit(datetime.now(timezone.utc), session.user, "logout", ip=client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@pages.get("/lang/{lang}", access="public")
def set_lang(request: Request, lang: str, next: str = "/"):
    """A preference cookie only (no server state), so a plain link is enough."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="lax", httponly=True,
                            secure=cookie_secure(request))
    return response
