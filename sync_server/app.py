"""The FastAPI app factory: ``create_app(settings)``; no work happens at import time."""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from hailong_core.questionnaire import Questionnaire, parse_questionnaire
from sync_server import __version__
from sync_server.api import kiosk, pages
from sync_server.errors import ApiError, error_body
from sync_server.settings import default_db_path
from sync_server.storage import Storage, open_storage

log = logging.getLogger("sync_server")


class AppState:
    """What every request needs: settings, storage, and parsed questionnaires (cached)."""

    def __init__(self, settings, storage: Storage):
        self.settings = settings
        self.storage = storage
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, int], Questionnaire] | None = None

    def questionnaires(self) -> dict[tuple[str, int], Questionnaire]:
        with self._lock:
            if self._parsed is None:
                self._parsed = {key: parse_questionnaire(doc) for key, doc in self.storage.questionnaires().items()}
            return self._parsed


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves in the one JSON shape; unknown exceptions become a plain 500."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
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
    app = FastAPI(title="Hài Lòng sync server", version=__version__,
                  description="Protocol v1 between Hài Lòng kiosks and the province server. Errors: "
                              "`{\"error\": {\"code\", \"message\"}}` with stable codes.")
    app.state.hailong = AppState(settings, storage)
    install_error_handlers(app)
    app.include_router(kiosk.router)
    app.include_router(pages.router)
    app.openapi = _openapi(app)
    return app
