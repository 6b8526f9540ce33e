"""Unsubscribe: GET shows a button, POST unsubscribes; RFC 8058 one-click POST too.

Mail scanners open every link, so a GET never changes anything. A mail provider's
one-click POST (body `List-Unsubscribe=One-Click`) comes without our cookie, so it needs
no CSRF token: the signed link is the authority, and it can only stop mail.

A link from before the reader's links were renewed (address changed, unsubscribed and
back, ...) still stops mail, but its page names no address and links nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from newsletter.db import session_scope
from newsletter.models import SubscriberStatus
from newsletter.subscriptions.signup import subscriber_for_unsubscribe, unsubscribe_by_token
from newsletter.subscriptions.tokens import InvalidToken, make_token
from newsletter.web.formdata import csrf_problem, read_form_or_refusal
from newsletter.web.templating import notice, render_page

router = APIRouter()


def describe(token: str) -> tuple[str | None, bool, str | None]:
    """Return (address, still receiving mail?, preferences path), address and path only
    if the link is of the current generation."""
    with session_scope() as session:
        subscriber, current = subscriber_for_unsubscribe(session, token)
        receiving = subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)
        if not current:
            return None, receiving, None
        preferences = None
        if receiving:
            token_for_prefs = make_token("preferences", subscriber.id, subscriber.token_generation)
            preferences = f"/preferences/{token_for_prefs}"
        return subscriber.email, receiving, preferences


def done(request: Request, email: str | None) -> HTMLResponse:
    who = email or "This subscription"
    return notice(
        request,
        "You're unsubscribed",
        f"{who} will get no more digests.",
        link=("Subscribed by mistake? Sign up again", "/"),
    )


def bad_link(request: Request, message: str) -> HTMLResponse:
    return notice(
        request,
        "This link doesn't work",
        f"{message} Use the unsubscribe link in your most recent digest (copy the whole "
        "link if your mail program split it over two lines).",
        400,
    )


def button_page(
    request: Request,
    token: str,
    email: str | None,
    preferences: str | None,
    error: str | None = None,
) -> HTMLResponse:
    """The page with the unsubscribe button; with an error, a 400 that says what went wrong."""
    return render_page(
        request,
        "unsubscribe.html",
        {"email": email, "token": token, "error": error, "preferences_url": preferences},
        400 if error else 200,
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    try:
        email, receiving, preferences = await run_in_threadpool(describe, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    if not receiving:
        return done(request, email)
    return button_page(request, token, email, preferences)


@router.post("/unsubscribe/{token}")
async def unsubscribe_submit(request: Request, token: str) -> Response:
    form = await read_form_or_refusal(request)
    if isinstance(form, Response):
        return form
    if form.get("List-Unsubscribe") == "One-Click":
        try:
            await run_in_threadpool(unsubscribe_by_token, token)
        except InvalidToken as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        return PlainTextResponse("unsubscribed\n")
    try:
        email, receiving, preferences = await run_in_threadpool(describe, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    problem = csrf_problem(request, form)
    if problem:
        if not receiving:
            return done(request, email)
        return button_page(request, token, email, preferences, error=problem)
    result = await run_in_threadpool(unsubscribe_by_token, token)
    return done(request, result.email)
