"""The FastAPI app factory: ``create_app(settings)``; no work happens at import time."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pathlib import Path
from urllib.parse import quote

from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync_server import __version__
from sync_server.api import kiosk, pages
from sync_server.api import pull
from sync_server.api import prompts as prompt_api
from sync_server.api import releases as release_api
from sync_server.api import relay as relay_api
from sync_server.web import results as results_pages
from sync_server.web import routes_auth, routes_fleet, routes_officers, routes_overview, routes_people, routes_surveys, routes_units
from sync_server.web import routes_conflicts
from sync_server.web import routes_prompts
from sync_server.web import routes_releases
from sync_server.web import routes_upstream
from sync_server.web import phone as phone_pages
from sync_server.web import headers as security_headers
from sync_server import phone as phone_channel
from sync_server.web.access import FormError, Forbidden, LoginRequired, PageNotFound
from sync_server.errors import ApiError, error_body
from sync_server.indexes import QuestionnaireIndex, ServerState  # noqa: F401 - QuestionnaireIndex: old import path
from sync_server.maintenance import Schedule
from sync_server.relay.forwarder import Forwarder
from sync_server.settings import default_db_path
from sync_server.storage import Storage, open_storage

log = logging.getLogger("sync_server")


class AppState(ServerState):
    """What every request needs (the web app's :class:`~sync_server.indexes.ServerState`)."""


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


# What a kiosk or a browser is told to wait while the database is down (seconds).
RETRY_AFTER_S = 30
# SQLite primary result codes that mean "the file cannot be used now", not "this statement is
# wrong": BUSY, LOCKED, IOERR, CORRUPT, CANTOPEN, PROTOCOL, NOTADB. A syntax error or a missing
# table is an OperationalError too, and stays a 500.
_SQLITE_UNAVAILABLE = frozenset((5, 6, 10, 11, 14, 15, 26))
_SQLITE_STATEMENT_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
                            sqlite3.DataError, sqlite3.NotSupportedError, sqlite3.InternalError)


def _database_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite alone still works
        return (sqlite3.DatabaseError,)
    return (sqlite3.DatabaseError, psycopg.Error)


def database_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what it was raised from) says the database cannot be reached or used
    right now; constraint violations and programming errors are False (they stay a 500)."""
    for _ in range(8):
        if exc is None:
            return False
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, _SQLITE_STATEMENT_ERRORS):
            code = getattr(exc, "sqlite_errorcode", None)
            if type(exc) is sqlite3.DatabaseError or (code is not None and code & 0xFF in _SQLITE_UNAVAILABLE):
                return True
        if type(exc).__module__.split(".")[0] == "psycopg":
            import psycopg

            # Connection refused or lost, server shutting down, too many connections, lock timeouts;
            # IntegrityError, ProgrammingError, DataError and InternalError are not OperationalError.
            if isinstance(exc, psycopg.OperationalError):
                return True
        exc = exc.__cause__
    return False


class _OutageLog:
    """One log line when the database goes away (then at most one a minute, with a count), not a
    traceback per request."""

    def __init__(self, every_s: float = 60.0):
        self._every_s = every_s
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._quiet = 0

    def note(self, request: Request, exc: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._every_s:
                self._quiet += 1
                return
            quiet, self._quiet, self._last = self._quiet, 0, now
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        log.error("database unavailable (%s: %s) on %s %s; answering 503%s", type(exc).__name__, first_line,
                  request.method, request.url.path, f" ({quiet} more since the last line)" if quiet else "")


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves in the one JSON shape; unknown exceptions become a plain 500."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
        return _page_error(request, 401, "err_login_required")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        return _page_error(request, 403, exc.message_key)

    @app.exception_handler(PageNotFound)
    async def page_not_found(request: Request, exc: PageNotFound):
        return _page_error(request, 404, "err_not_found")

    @app.exception_handler(FormError)
    async def form_error(request: Request, exc: FormError):
        return _page_error(request, 400, "err_form", detail=exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        if not request.url.path.startswith("/api/"):
            return _page_error(request, 422, "err_form", detail=f"{where or 'form'}: {first.get('msg', 'invalid')}")
        if first.get("type") == "json_invalid":
            return _error(400, "invalid_json", "the body is not valid JSON")
        if first.get("type") == "extra_forbidden":
            return _error(422, "unknown_field", f"unknown field {where!r}")
        return _error(422, "invalid_body", f"{where or 'body'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_body")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    outages = _OutageLog()

    async def database_error(request: Request, exc: Exception):
        if not database_unavailable(exc):
            return await unexpected(request, exc)
        outages.note(request, exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        if request.url.path.startswith("/api/") or request.url.path == "/healthz":
            return _error(503, "database_unavailable", "the database cannot be reached; try again shortly", headers)
        request.state.hl_session = None  # the page must not ask the database who is signed in
        response = _page_error(request, 503, "err_database_unavailable")
        response.headers.update(headers)
        return response

    for kind in _database_errors():
        app.add_exception_handler(kind, database_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        if database_unavailable(exc):  # a database error wrapped on the way up (``raise … from exc``)
            return await database_error(request, exc)
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal_error", "internal error; the server's log has the details")


def _page_error(request: Request, status: int, key: str, detail: str | None = None):
    """A friendly HTML page for the admin pages (API routes keep the JSON shape)."""
    from sync_server.web.render import render

    return render(request, "error.html", status_code=status, key=key, detail=detail, status=status)


def iter_routes(routes):
    """Every concrete route of the app, flattening included routers.

    FastAPI ≥ 0.16x keeps ``include_router`` results as one node holding the original router;
    older versions copy the routes. Our routers are included without an extra prefix, so each
    route's own ``path`` is the full path either way.
    """
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from iter_routes(inner.routes)
        else:
            yield route


def check_access_rules(app: FastAPI) -> None:
    """Every route names its access rule (``sync_server.web.access``); refuse to start otherwise."""
    from starlette.routing import Mount

    for route in iter_routes(app.routes):
        if isinstance(route, Mount) and route.name == "static":
            continue
        endpoint = getattr(route, "endpoint", None)
        if route.path == app.openapi_url:
            continue  # the protocol's text: public by design
        if getattr(endpoint, "access", None) is None:
            raise RuntimeError(f"route {sorted(getattr(route, 'methods', None) or [])} {route.path} has no access rule")


def _openapi(app: FastAPI):
    def build() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema([(m, "validation") for m in kiosk.DOCUMENTED_MODELS],
                                     ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema
    return build


def create_app(settings, storage: Storage | None = None) -> FastAPI:
    """Build the app; opens (and migrates) the database named by ``settings.db`` unless given one."""
    storage = storage or open_storage(settings.db or default_db_path())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The periodic duties run here too (rollups, purges), so a server up for 90 days keeps no
        # call-back number past its retention even without the systemd timer (contract 9).
        schedule = Schedule(storage, settings, settings.maintain_every_s) if settings.maintain_every_s > 0 else None
        if schedule:
            schedule.start()
        # A relay (enrolled upstream, issue 17) forwards on its own; elsewhere the loop only looks for a link.
        forwarder = Forwarder(storage, settings, on_config=lambda done: app.state.hailong.index.invalidate())
        forwarder.start()
        try:
            yield
        finally:
            forwarder.stop()
            if schedule:
                schedule.stop()

    # No /docs or /redoc: they load their scripts from a CDN, and province networks may be air-gapped.
    app = FastAPI(title="Hài Lòng sync server", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Protocol v1 between Hài Lòng kiosks and the province server. Errors: "
                              "`{\"error\": {\"code\", \"message\"}}` with stable codes.")
    app.state.hailong = AppState(settings, storage)
    security_headers.install(app)  # CSP, frame, sniffing, referrer, HSTS over HTTPS; Secure cookies over HTTPS
    phone_channel.purge(storage, settings)  # contacts past their retention (contract 9), orphan comments, old abuse bookkeeping
    install_error_handlers(app)
    app.include_router(kiosk.router)
    app.include_router(pages.router)
    for module in (routes_auth, routes_overview, routes_units, routes_officers, routes_surveys, routes_fleet, routes_people,
                   routes_conflicts, routes_prompts, routes_releases, routes_upstream):
        app.include_router(module.pages.router)
    app.include_router(phone_pages.pages.router)  # /s/<unit>: the citizens' QR form
    app.include_router(results_pages.pages.router)  # results dashboard, recognition, exports
    app.include_router(pull.router)  # pull API for province systems (API tokens)
    app.include_router(prompt_api.router)  # recorded voice prompts for kiosks (device token)
    app.include_router(release_api.router)  # kiosk releases for the kiosks they are staged for (device token)
    app.include_router(relay_api.router)  # relays forward answers and mirror config (relay token, issue 17)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).resolve().parent / "static")), name="static")
    check_access_rules(app)
    app.openapi = _openapi(app)
    return app
