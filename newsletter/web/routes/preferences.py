"""The preferences page at a signed link: change everything, rate received papers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from newsletter.db import session_scope
from newsletter.models import SubscriberStatus
from newsletter.schedule import next_due_label
from newsletter.site.feeds import feed_url
from newsletter.subscriptions.claims import lock_subscriber
from newsletter.subscriptions.feedback import ReceivedPaper, rate_paper, recent_papers
from newsletter.subscriptions.service import Preferences, apply_preferences, preferences_of
from newsletter.subscriptions.signup import (
    SignupOutcome,
    request_email_change,
    subscriber_for_token,
)
from newsletter.subscriptions.tokens import InvalidToken, current_subscriber, make_token, read_token
from newsletter.subscriptions.validation import InvalidInput, has_control_characters
from newsletter.web.formdata import BadForm, csrf_problem, read_form, unreadable
from newsletter.web.forms import (
    COMMON_CATEGORIES,
    WEEKDAYS,
    parse_preferences_form,
    timezones,
    values_from_preferences,
)
from newsletter.web.templating import notice, render_page
from newsletter.web.throttle import check_mail_caps, too_many

router = APIRouter()

SAVED_MESSAGES = {
    "preferences": "Saved. Your next digest follows these preferences.",
    "rating": "Thanks: later digests take this into account.",
    "email": (
        "Check the new inbox: open the link we sent there to move your digest. Nothing "
        "changes until you do."
    ),
    "email-moved": "Done: your digest now goes to this address.",
}


@dataclass
class PageData:
    email: str
    status: str
    next_due: str
    values: dict[str, Any]
    papers: list[ReceivedPaper]
    unsubscribe_path: str
    feed_url: str


def load_page(token: str) -> PageData:
    """Read everything the page shows, refusing forged, expired and revoked links."""
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "preferences", token)
        unsubscribe = make_token("unsubscribe", subscriber.id, subscriber.token_generation)
        return PageData(
            email=subscriber.email,
            status=subscriber.status,
            next_due=next_due_label(subscriber),
            values=values_from_preferences(preferences_of(subscriber), subscriber.email),
            papers=recent_papers(session, subscriber),
            unsubscribe_path=f"/unsubscribe/{unsubscribe}",
            feed_url=feed_url(subscriber.id, subscriber.token_generation),
        )


def save_preferences(token: str, prefs: Preferences) -> None:
    """Replace the reader's choices whole; of two saves at once, the later one wins."""
    data = read_token("preferences", token)
    with session_scope() as session:
        # Lock before reading: a save that read the interests before another save
        # committed would keep that save's additions (the two forms merged).
        lock_subscriber(session, data.subscriber_id)
        subscriber = current_subscriber(session, data)
        apply_preferences(subscriber, prefs)


def save_rating(token: str, arxiv_id: str, action: str) -> None:
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "preferences", token)
        if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
            raise InvalidInput("This subscription is stopped; ratings are not used.")
        rate_paper(session, subscriber, arxiv_id, action)


def page(
    request: Request,
    token: str,
    data: PageData,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
    new_email: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return render_page(
        request,
        "preferences.html",
        {
            "token": token,
            "email": data.email,
            "status": data.status,
            "next_due": data.next_due,
            "v": values or data.values,
            "errors": errors or {},
            "saved": saved,
            "new_email": new_email,
            "papers": data.papers,
            "unsubscribe_url": data.unsubscribe_path,
            "feed_url": data.feed_url,
            "categories": COMMON_CATEGORIES,
            "timezones": timezones(),
            "weekdays": WEEKDAYS,
        },
        status_code=status_code,
    )


def bad_link(request: Request, message: str) -> HTMLResponse:
    return notice(
        request,
        "This link doesn't work",
        f"{message} To get a fresh link, enter your address on the signup page: if you "
        "are subscribed, we email you your links.",
        400,
        link=("Go to the signup page", "/signup"),
    )


async def open_form(request: Request, token: str) -> tuple[PageData, FormData] | Response:
    """Load the page behind a link and read a posted form, or the page that says why not."""
    try:
        data = await run_in_threadpool(load_page, token)
        form = await read_form(request)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    except BadForm as exc:
        return unreadable(request, exc)
    return data, form


@router.get("/preferences/{token}", response_class=HTMLResponse)
async def preferences_page(request: Request, token: str, saved: str | None = None) -> Response:
    try:
        data = await run_in_threadpool(load_page, token)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    return page(request, token, data, saved=SAVED_MESSAGES.get(saved or ""))


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences_submit(request: Request, token: str) -> Response:
    opened = await open_form(request, token)
    if isinstance(opened, Response):
        return opened
    data, form = opened
    result = parse_preferences_form(form, with_email=False)
    problem = csrf_problem(request, form)
    if problem:
        result.errors = {"form": problem, **result.errors}
    if not result.ok:
        return page(
            request, token, data, values=result.values, errors=result.errors, status_code=400
        )
    assert result.preferences is not None
    try:
        await run_in_threadpool(save_preferences, token, result.preferences)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    return RedirectResponse(f"/preferences/{token}?saved=preferences#settings", status_code=303)


@router.post("/preferences/{token}/feedback", response_class=HTMLResponse)
async def feedback_submit(request: Request, token: str) -> Response:
    opened = await open_form(request, token)
    if isinstance(opened, Response):
        return opened
    data, form = opened
    problem = csrf_problem(request, form)
    if problem:
        return page(request, token, data, errors={"form": problem}, status_code=400)
    arxiv_id, action = form.get("arxiv_id"), form.get("action")
    if (
        not isinstance(arxiv_id, str)
        or not isinstance(action, str)
        or has_control_characters(arxiv_id + action)
    ):
        return page(request, token, data, errors={"form": "Choose a paper."}, status_code=400)
    try:
        await run_in_threadpool(save_rating, token, arxiv_id, action)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    except InvalidInput as exc:
        return page(request, token, data, errors={"form": str(exc)}, status_code=400)
    return RedirectResponse(f"/preferences/{token}?saved=rating#recent", status_code=303)


@router.post("/preferences/{token}/email", response_class=HTMLResponse)
async def email_change_submit(request: Request, token: str) -> Response:
    opened = await open_form(request, token)
    if isinstance(opened, Response):
        return opened
    data, form = opened
    raw = form.get("new_email")
    new_email = raw.strip()[:400] if isinstance(raw, str) else ""
    problem = csrf_problem(request, form)
    if problem:
        errors = {"form": problem}
        return page(request, token, data, errors=errors, new_email=new_email, status_code=400)
    refusal = await run_in_threadpool(check_mail_caps, request, new_email)
    if refusal is not None:
        return too_many(request, refusal)
    try:
        outcome = await run_in_threadpool(request_email_change, token, new_email)
    except InvalidToken as exc:
        return bad_link(request, str(exc))
    except InvalidInput as exc:
        message = str(exc).split("': ", 1)[-1]
        errors = {"new_email": f"Enter a valid new address: {message}"}
        return page(request, token, data, errors=errors, new_email=new_email, status_code=400)
    if outcome == SignupOutcome.MAIL_FAILED:
        errors = {"new_email": "We could not send the email just now. Please try again later."}
        return page(request, token, data, errors=errors, new_email=new_email, status_code=503)
    return RedirectResponse(f"/preferences/{token}?saved=email#address", status_code=303)
