"""/admin for operators (HTTP Basic: NEWSLETTER_ADMIN_USER and NEWSLETTER_ADMIN_PASSWORD).

With no password configured the page is off (503 with the reason), never open. Both
name and password are compared in constant time, and a client that keeps guessing
wrong is refused for a while (see newsletter.web.login_guard).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.monitoring import SES_BOUNCE_LIMIT, SES_COMPLAINT_LIMIT, Overview, overview
from newsletter.operations import actions
from newsletter.operations.actions import LoggedAction
from newsletter.operations.editions import EditionProgress, progress
from newsletter.operations.history import daily_rates, sends_per_minute
from newsletter.subscriptions.validation import InvalidInput, has_control_characters
from newsletter.web.charts import Chart, rate_chart, sends_chart
from newsletter.web.formdata import BadForm, csrf_problem, read_form, unreadable
from newsletter.web.templating import notice, render_page
from newsletter.web.throttle import client_address

router = APIRouter()
basic = HTTPBasic(auto_error=False, realm="newsletter admin")
Credentials = Annotated[HTTPBasicCredentials | None, Depends(basic)]


BACK = ("Back to the operators' page", "/admin")
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


def actor(request: Request, credentials: HTTPBasicCredentials | None) -> str:
    """Who did it, for the action log: the admin user name and the client's address."""
    user = credentials.username if credentials else "?"
    client = client_address(request, get_settings().trusted_proxies)
    return f"{user} from {client}"


@dataclass
class Cockpit:
    overview: Overview
    editions: list[EditionProgress]
    sends: Chart
    bounces: Chart
    complaints: Chart
    actions: list[LoggedAction]
    done: LoggedAction | None  # the action the operator just took, to confirm it


def cockpit(done_id: int | None = None) -> Cockpit:
    with session_scope() as session:
        view = overview(session)
        now = view.generated_at
        days = daily_rates(session, now)
        return Cockpit(
            overview=view,
            editions=progress(session, now),
            sends=sends_chart(sends_per_minute(session, now), now),
            bounces=rate_chart(days, kind="bounce", limit=SES_BOUNCE_LIMIT),
            complaints=rate_chart(days, kind="complaint", limit=SES_COMPLAINT_LIMIT),
            actions=actions.recent(session),
            done=actions.one(session, done_id),
        )


def snapshot() -> Overview:
    with session_scope() as session:
        return overview(session)


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(
    request: Request, credentials: Credentials, done: int | None = None
) -> Response:
    refused = refusal(request, credentials)
    if refused is not None:
        return refused
    view = await run_in_threadpool(cockpit, done)
    return render_page(
        request,
        "admin.html",
        {
            "o": view.overview,
            "c": view,
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


async def guarded_form(
    request: Request, credentials: HTTPBasicCredentials | None
) -> tuple[FormData, str] | Response:
    """Check the password and the form's CSRF token; return (form, actor) or the refusal.

    Browsers resend Basic credentials to any site's form that posts here, so the
    password alone proves nothing about a POST: the CSRF token does.
    """
    refused = refusal(request, credentials)
    if refused is not None:
        return refused
    try:
        form = await read_form(request)
    except BadForm as exc:
        return unreadable(request, exc)
    problem = csrf_problem(request, form)
    if problem:
        return notice(request, "Nothing was done", problem, 400, link=BACK)
    return form, actor(request, credentials)


def text_field(form: FormData, name: str, limit: int = 200) -> str:
    """A short one-line text field, trimmed; control characters and overlong text refused."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit or has_control_characters(text):
        raise InvalidInput(f"keep it to one line of at most {limit} characters")
    return text
