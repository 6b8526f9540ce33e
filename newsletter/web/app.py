"""Build the web application from the route modules in newsletter/web/routes/."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

from newsletter.config import get_settings
from newsletter.db import ensure_schema
from newsletter.web import routes


def create_app() -> FastAPI:
    """Create the app, validating settings and migrating the schema at start-up."""
    get_settings()
    ensure_schema()
    app = FastAPI(title="Trending papers newsletter", docs_url=None, redoc_url=None)
    for module_info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{module_info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn newsletter.web.app:app` builds the app lazily, so importing this module
    # (tests, tools) does not touch the database.
    if name == "app":
        return create_app()
    raise AttributeError(name)
