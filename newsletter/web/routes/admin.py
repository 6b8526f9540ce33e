"""/admin for operators (HTTP Basic, password from NEWSLETTER_ADMIN_PASSWORD).

With no password configured the page is off (503 with the reason), never open.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.monitoring import SES_BOUNCE_LIMIT, SES_COMPLAINT_LIMIT, Overview, overview
from newsletter.web.templating import notice, render_page

router = APIRouter()
basic = HTTPBasic(auto_error=False, realm="newsletter admin")
Credentials = Annotated[HTTPBasicCredentials | None, Depends(basic)]


def refusal(request: Request, credentials: HTTPBasicCredentials | None) -> Response | None:
    """Return the response that refuses this request, or None if it may see the page."""
    password = get_settings().admin_password
    if not password:
        return notice(
            request,
            "Admin is disabled",
            "Set NEWSLETTER_ADMIN_PASSWORD to turn on the operator pages.",
            503,
        )
    if credentials is None or not secrets.compare_digest(
        credentials.password.encode("utf-8"), password.encode("utf-8")
    ):
        response = notice(request, "Sign in", "The operator pages need the admin password.", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="newsletter admin", charset="UTF-8"'
        return response
    return None


def snapshot() -> Overview:
    with session_scope() as session:
        return overview(session)


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, credentials: Credentials) -> Response:
    refused = refusal(request, credentials)
    if refused is not None:
        return refused
    view = await run_in_threadpool(snapshot)
    return render_page(
        request,
        "admin.html",
        {
            "o": view,
            "bounce_limit": SES_BOUNCE_LIMIT,
            "complaint_limit": SES_COMPLAINT_LIMIT,
        },
    )


@router.get("/admin/overview.json")
async def admin_json(request: Request, credentials: Credentials) -> Response:
    refused = refusal(request, credentials)
    if refused is not None:
        return refused
    view = await run_in_threadpool(snapshot)
    return JSONResponse(view.to_dict(), headers={"Cache-Control": "no-store"})
