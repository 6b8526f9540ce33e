"""View in browser: the digest a reader got, at the signed link in its header and footer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import Delivery, Edition
from newsletter.render.compose import public_html, view_html
from newsletter.render.environment import email_environment
from newsletter.subscriptions.tokens import (
    InvalidToken,
    RevokedToken,
    current_subscriber,
    read_token,
)

router = APIRouter()

# The token in the URL is a credential: keep the page out of caches, indexes and the
# Referer header of every paper link the reader follows.
PRIVATE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


@router.get("/digest/{token}", response_class=HTMLResponse)
def view_digest(token: str) -> HTMLResponse:
    """Serve the same digest HTML the reader was mailed, from the delivery's recorded picks."""
    try:
        data = read_token("view", token)
    except InvalidToken as exc:
        return error_page(400, "This link does not work", str(exc))
    with session_scope() as session:
        try:
            subscriber = current_subscriber(session, data)
        except RevokedToken:
            # A link in an old email never dies: it shows that day's edition as anyone
            # may see it, with nothing of the reader it was sent to.
            edition = session.scalar(select(Edition).where(Edition.key == data.extra))
            if edition is None:
                return error_page(
                    404, "This digest is not available", "We have no such edition any more."
                )
            return HTMLResponse(public_html(session, edition), headers=PRIVATE_HEADERS)
        delivery = session.scalar(
            select(Delivery)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(Edition.key == data.extra, Delivery.subscriber_id == subscriber.id)
        )
        if delivery is None or not delivery.papers:
            return error_page(
                404,
                "This digest is not available",
                "We have no papers recorded for this digest. It may not have been sent yet.",
            )
        html = view_html(session, delivery, subscriber)
    return HTMLResponse(html, headers=PRIVATE_HEADERS)


def error_page(status: int, heading: str, message: str) -> HTMLResponse:
    page = (
        email_environment()
        .get_template("email/view_error.html")
        .render(heading=heading, message=message, home_url=f"{get_settings().base_url}/")
    )
    return HTMLResponse(page, status_code=status, headers=PRIVATE_HEADERS)
