""" "More like this" / "Less like this" from a digest card: /f/{token}, no login needed.

The signed token names the reader, the paper and the choice. Mail scanners open every
link in an email, so a GET only shows a page with one button; the button's POST records
a Feedback row (liked or hidden) that the next ranking reads. A new choice replaces the
reader's earlier one for that paper: "less" after "more" is a change of mind, not both.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, select
from starlette.concurrency import run_in_threadpool

from newsletter.db import session_scope
from newsletter.models import Feedback, FeedbackKind, Paper
from newsletter.subscriptions.links import FEEDBACK_CHOICES
from newsletter.subscriptions.tokens import (
    NOT_VALID,
    InvalidToken,
    RevokedToken,
    current_subscriber,
    read_token,
)
from newsletter.web.formdata import csrf_problem, read_form_or_refusal
from newsletter.web.templating import notice, render_page

router = APIRouter()

KIND = {"more": FeedbackKind.LIKED, "less": FeedbackKind.HIDDEN}
GONE = (
    "Links in older emails stop recording your choices after you unsubscribe or ask for "
    "new links. Use the buttons in your most recent digest."
)


@dataclass(frozen=True)
class Choice:
    subscriber_id: int
    arxiv_id: str
    choice: str
    title: str


def read_choice(token: str) -> Choice:
    """Verify the link and find its paper; InvalidToken (RevokedToken) with a safe message."""
    data = read_token("feedback", token)
    arxiv_id, _, choice = data.extra.rpartition("|")
    if not arxiv_id or choice not in FEEDBACK_CHOICES:
        raise InvalidToken(NOT_VALID)
    with session_scope() as session:
        subscriber = current_subscriber(session, data)
        title = session.scalar(select(Paper.title).where(Paper.arxiv_id == arxiv_id))
        return Choice(subscriber.id, arxiv_id, choice, title or f"arXiv:{arxiv_id}")


def record(choice: Choice) -> None:
    """Store the reader's choice for the paper, replacing any earlier like or hide of it."""
    with session_scope() as session:
        session.execute(
            delete(Feedback).where(
                Feedback.subscriber_id == choice.subscriber_id,
                Feedback.arxiv_id == choice.arxiv_id,
                Feedback.kind.in_([FeedbackKind.LIKED, FeedbackKind.HIDDEN]),
            )
        )
        session.add(
            Feedback(
                subscriber_id=choice.subscriber_id,
                arxiv_id=choice.arxiv_id,
                kind=KIND[choice.choice],
            )
        )


def bad_link(request: Request, exc: InvalidToken) -> HTMLResponse:
    if isinstance(exc, RevokedToken):
        return notice(request, "This link no longer works", GONE, 410)
    return notice(request, "This link doesn't work", str(exc), 400)


def page(request: Request, token: str, choice: Choice, error: str | None = None) -> HTMLResponse:
    context = {"token": token, "choice": choice.choice, "title": choice.title, "error": error}
    return render_page(request, "feedback.html", context, 400 if error else 200)


@router.get("/f/{token}", response_class=HTMLResponse)
async def feedback_page(request: Request, token: str) -> HTMLResponse:
    """Show the choice and one button; nothing is recorded by opening the link."""
    try:
        choice = await run_in_threadpool(read_choice, token)
    except InvalidToken as exc:
        return bad_link(request, exc)
    return page(request, token, choice)


@router.post("/f/{token}")
async def feedback_submit(request: Request, token: str) -> Response:
    form = await read_form_or_refusal(request)
    if isinstance(form, Response):
        return form
    try:
        choice = await run_in_threadpool(read_choice, token)
    except InvalidToken as exc:
        return bad_link(request, exc)
    problem = csrf_problem(request, form)
    if problem:
        return page(request, token, choice, error=problem)
    await run_in_threadpool(record, choice)
    if choice.choice == "more":
        message = f"Noted: your next digests will lean towards papers like “{choice.title}”."
    else:
        message = f"Noted: “{choice.title}” and papers like it will be shown less."
    return notice(request, "Thanks", message)
