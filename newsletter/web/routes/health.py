"""Liveness and readiness for load balancers and the Procfile's web process."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from newsletter.db import get_engine

router = APIRouter()


@router.get("/healthz")
def healthz() -> JSONResponse:
    """Report whether the database answers; 503 if not."""
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; say which
        return JSONResponse({"status": "error", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok"})
