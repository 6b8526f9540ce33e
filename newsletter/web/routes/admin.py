"""/admin for operators (HTTP Basic: NEWSLETTER_ADMIN_USER and NEWSLETTER_ADMIN_PASSWORD).

With no password configured the page is off (503 with the reason), never open. Both
name and password are compared in constant time, and a client that keeps guessing
wrong is refused for a while (see newsletter.web.login_guard).
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


CHALLENGE = 'Basic realm="newsletter admin", charset="UTF-8"'


def _answer(request: Request, status: int, title: str, message: str, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"error": message}, status_code=status)
    return notice(request, title, message, status)


def _matches(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def refusal(
    request: Request, credentials: HTTPBasicCredentials | None, *, as_json: bool = False
) -> Response | None:
    """Return the response that refuses this request, or None if it may see the page."""
    settings = get_settings()
    password = settings.admin_password
    if not password:
        message = "Set NEWSLETTER_ADMIN_PASSWORD to turn on the operator pages."
        return _answer(request, 503, "Admin is disabled", message, as_json)
    guard = request.app.state.failed_logins
    client = request.client.host if request.client else "unknown"
    wait = guard.wait_seconds(client)
    if wait:
        message = "Too many wrong passwords from this address. Try again later."
        response = _answer(request, 429, "Too many attempts", message, as_json)
        response.headers["Retry-After"] = str(wait)
        return response
    # Both compared, always: stopping at a wrong name would time-tell which part failed.
    name_ok = credentials is not None and _matches(credentials.username, settings.admin_user)
    password_ok = credentials is not None and _matches(credentials.password, password)
    if not (name_ok and password_ok):
        if credentials is not None:
            guard.failed(client)
        message = "The operator pages need the admin user name and password."
        response = _answer(request, 401, "Sign in", message, as_json)
        response.headers["WWW-Authenticate"] = CHALLENGE
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
    refused = refusal(request, credentials, as_json=True)
    if refused is not None:
        return refused
    view = await run_in_threadpool(snapshot)
    return JSONResponse(view.to_dict(), headers={"Cache-Control": "no-store"})
