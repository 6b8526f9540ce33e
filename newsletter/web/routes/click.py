"""The click-tracking redirect behind every paper link in a digest: /c/{token}.

The signed token names a subscriber, a paper and which of the paper's own links
(abs, pdf, hf, code, project); never a URL. So the redirect can only lead to a URL we
stored for that paper: there is no parameter an attacker could point elsewhere (no
open redirect). Each first click on a paper becomes a Feedback(clicked) row that later
rankings read, unless the reader turned tracking off. A revoked link (the reader changed
address or unsubscribed) still leads to the paper: links in old emails never die, they
only stop recording.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import Feedback, FeedbackKind, Paper, Subscriber
from newsletter.subscriptions.links import CLICK_TARGETS, own_url
from newsletter.subscriptions.tokens import (
    InvalidToken,
    RevokedToken,
    current_subscriber,
    read_token,
)

router = APIRouter()

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# Only a real arXiv id may fall back to arXiv's canonical pages.
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")
# Tokens sit in the path: never hand them to the next site or keep them in caches.
PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )


def _error(status: int, title: str, message: str) -> HTMLResponse:
    html = (
        _environment()
        .get_template("click_error.html")
        .render(title=title, message=message, home=get_settings().base_url + "/")
    )
    return HTMLResponse(html, status_code=status, headers=PRIVATE_HEADERS)


def paper_url(paper: Paper, target: str) -> str | None:
    """Return the paper's own stored URL for `target`, or None if it has none."""
    nothing_stored = target in CLICK_TARGETS and not getattr(paper, f"{target}_url")
    if nothing_stored and target in ("abs", "pdf") and _ARXIV_ID.match(paper.arxiv_id):
        return f"https://arxiv.org/{target}/{paper.arxiv_id}"
    return own_url(paper, target)


def record_click(session: Session, subscriber_id: int, arxiv_id: str) -> None:
    """Record one click per reader and paper: repeated clicks (or link scanners that
    open every link twice) say nothing more than the first."""
    exists = session.scalar(
        select(Feedback.id).where(
            Feedback.subscriber_id == subscriber_id,
            Feedback.arxiv_id == arxiv_id,
            Feedback.kind == FeedbackKind.CLICKED,
        )
    )
    if exists is None:
        session.add(
            Feedback(subscriber_id=subscriber_id, arxiv_id=arxiv_id, kind=FeedbackKind.CLICKED)
        )


@router.get("/c/{token}", response_model=None)
def follow_click(token: str) -> Response:
    """Verify the link, record the click and redirect to the paper's own page."""
    try:
        data = read_token("click", token)
    except InvalidToken as exc:
        return _error(400, "This link does not work", str(exc))
    arxiv_id, _, target = data.extra.rpartition("|")
    if not arxiv_id or target not in CLICK_TARGETS:
        return _error(400, "This link does not work", "This link is not valid.")
    with session_scope() as session:
        try:
            subscriber: Subscriber | None = current_subscriber(session, data)
        except RevokedToken:
            # An old email's link (address changed, unsubscribed): still the paper, but
            # the click is nobody's to record any more.
            subscriber = None
        paper = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
        url = paper_url(paper, target) if paper is not None else None
        if url is None and _ARXIV_ID.match(arxiv_id) and target in ("abs", "pdf"):
            url = f"https://arxiv.org/{target}/{arxiv_id}"  # a paper since removed from us
        if url is None:
            return _error(404, "Paper link not found", "We have no such link for this paper.")
        if subscriber is not None and subscriber.click_tracking is not False:
            record_click(session, subscriber.id, arxiv_id)
    return RedirectResponse(url, status_code=302, headers=PRIVATE_HEADERS)
