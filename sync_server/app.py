"""The FastAPI app factory: ``create_app(settings)``; no work happens at import time."""

from __future__ import annotations

import logging
import threading
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pathlib import Path
from urllib.parse import quote

from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from hailong_core.questionnaire import Questionnaire, parse_questionnaire
from sync_server import __version__
from sync_server.api import kiosk, pages
from sync_server.api import pull
from sync_server.web import results as results_pages
from sync_server.web import routes_auth, routes_fleet, routes_officers, routes_overview, routes_people, routes_surveys, routes_units
from sync_server.web import phone as phone_pages
from sync_server import phone as phone_channel
from sync_server.web.access import FormError, Forbidden, LoginRequired, PageNotFound
from sync_server.errors import ApiError, error_body
from sync_server.settings import default_db_path
from sync_server.storage import Storage, open_storage

log = logging.getLogger("sync_server")


class QuestionnaireIndex:
    """Published questionnaires, parsed once; an unknown ``(id, version)`` reloads from storage.

    Publishing happens rarely and possibly in another process (the CLI), so instead of asking the
    database on every upload, a miss refreshes the index (at most once a second: a flood of
    made-up versions must not become a flood of reloads).
    """

    def __init__(self, storage: Storage):
        self._storage = storage
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, int], Questionnaire] = {}
        self._loaded_at = float("-inf")

    def _reload(self) -> None:
        self._parsed = {key: parse_questionnaire(doc) for key, doc in self._storage.questionnaires().items()}
        self._loaded_at = time.monotonic()

    def get(self, key, default=None):
        found = self._parsed.get(key)
        if found is None:
            with self._lock:
                if time.monotonic() - self._loaded_at >= 1.0:
                    self._reload()
                found = self._parsed.get(key)
        return found if found is not None else default

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")
            self._reload()


class AppState:
    """What every request needs: settings, storage, and parsed questionnaires (cached)."""

    def __init__(self, settings, storage: Storage):
        self.settings = settings
        self.storage = storage
        self.index = QuestionnaireIndex(storage)

    def questionnaires(self) -> QuestionnaireIndex:
        return self.index


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
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
    # No /docs or /redoc: they load their scripts from a CDN, and province networks may be air-gapped.
    app = FastAPI(title="Hài Lòng sync server", version=__version__, docs_url=None, redoc_url=None,
                  description="Protocol v1 between Hài Lòng kiosks and the province server. Errors: "
                              "`{\"error\": {\"code\", \"message\"}}` with stable codes.")
    app.state.hailong = AppState(settings, storage)
    phone_channel.purge(storage, settings)  # contacts past their retention (contract 9), orphan comments, old abuse bookkeeping
    install_error_handlers(app)
    app.include_router(kiosk.router)
    app.include_router(pages.router)
    for module in (routes_auth, routes_overview, routes_units, routes_officers, routes_surveys, routes_fleet, routes_people):
        app.include_router(module.pages.router)
    app.include_router(phone_pages.pages.router)  # /s/<unit>: the citizens' QR form
    app.include_router(results_pages.pages.router)  # results dashboard, recognition, exports
    app.include_router(pull.router)  # pull API for province systems (API tokens)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).resolve().parent / "static")), name="static")
    check_access_rules(app)
    app.openapi = _openapi(app)
    return app
