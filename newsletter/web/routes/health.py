"""Liveness and readiness for load balancers and the Procfile's web process."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from newsletter.db import get_engine

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz")
def healthz() -> JSONResponse:
    """Report whether the database answers; 503 if not.

    Anyone can call this, so the answer says only "up" or "down"; the reason (host
    names, user names, driver messages) goes to the log for operators.
    """
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready"
        log.exception("health check: the database does not answer")
        return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
