"""Build the web application from the route modules in newsletter/web/routes/."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from newsletter import services
from newsletter.config import get_settings
from newsletter.db import is_current
from newsletter.logging_setup import json_logs_if_asked
from newsletter.web import log_redaction, routes
from newsletter.web.login_guard import failed_logins
from newsletter.web.templating import notice

log = logging.getLogger(__name__)

_TITLES = {
    404: ("Page not found", "There is nothing at this address. Check the link, or start over."),
    405: ("Not allowed", "This page cannot be used that way."),
}
# Machine endpoints answer errors in JSON; people get a page.
_MACHINE_PREFIXES = ("/webhooks/", "/metrics", "/healthz", "/admin/overview.json")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(_MACHINE_PREFIXES)


async def http_error(request: Request, exc: Exception) -> Response:
    """Show HTTP errors (404, 405, ...) as a page, never a bare JSON blob to a person."""
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    title, message = _TITLES.get(exc.status_code, ("That didn't work", str(exc.detail)))
    response = notice(request, title, message, exc.status_code, link=("Go to the start page", "/"))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    """Turn a malformed request (bad path or query value) into a 400 page, not a 422 dump."""
    if _wants_json(request):
        return JSONResponse({"error": "malformed request"}, status_code=400)
    return notice(
        request,
        "That didn't work",
        "We could not understand this request. Check the link, or start over.",
        400,
        link=("Go to the start page", "/"),
    )


async def server_error(request: Request, exc: Exception) -> Response:
    """Log the traceback for operators; show people an apology, never the traceback."""
    # The path may hold a link token: the redactor installed on our loggers removes it.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        return JSONResponse({"error": "internal error"}, status_code=500)
    return notice(
        request,
        "Something went wrong on our side",
        "Nothing you did caused this. Please try again in a minute.",
        500,
    )


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Open this process's services fresh, and close them when the server stops."""
    services.reset()
    get_settings()
    try:
        if not is_current():
            log.error("the database schema is behind this code: run `newsletter db upgrade`")
    except OperationalError as exc:
        log.error("cannot reach the database at start-up: %s", exc.orig)
    yield
    services.reset()


def create_app() -> FastAPI:
    """Create the app, validating settings at start-up.

    The schema is migrated by `newsletter db upgrade` (the Procfile's release step),
    never here: several web replicas starting at once would race on the migration.
    """
    json_logs_if_asked(get_settings().log_format)
    app = FastAPI(
        title="Trending papers newsletter",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.failed_logins = failed_logins(get_settings().redis_url)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)
    for module_info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{module_info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    log_redaction.install(app)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn newsletter.web.app:app` builds the app lazily, so importing this module
    # (tests, tools) does not touch the database.
    if name == "app":
        return create_app()
    raise AttributeError(name)
