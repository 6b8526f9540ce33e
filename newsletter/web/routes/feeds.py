"""Atom feeds: the public trending list, and each reader's own digests at a signed URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.site.cards import Card
from newsletter.site.feeds import PersonalFeed, feed_version, personal_feed
from newsletter.site.trending import trending
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.tokens import InvalidToken, RevokedToken
from newsletter.web.public import Page, cached, render

router = APIRouter()

ATOM = "application/atom+xml; charset=utf-8"
ENTRIES = 30
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 forbids (a NUL in an abstract would make the whole feed unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def card_html(card: Card, base: str) -> str:
    """A paper as feed readers show it: title link, authors, TL;DR (escaped HTML, as a str)."""
    parts = [Markup('<p><a href="{}">{}</a></p>').format(f"{base}{card.path}", card.title)]
    if card.authors:
        parts.append(Markup("<p><em>{}</em></p>").format(card.authors))
    parts.append(Markup("<p>{}</p>").format(card.tldr))
    return xml_text(str(Markup("").join(parts)))


def paper_entry(card: Card, base: str) -> dict[str, Any]:
    return {
        "id": f"{base}/papers/{card.arxiv_id}",
        "title": xml_text(card.title),
        "updated": stamp(card.changed),
        "published": stamp(card.published) if card.published else None,
        "url": f"{base}{card.path}",
        "authors": [xml_text(name) for name in card.all_authors[:10]],
        "summary": xml_text(card.tldr),
        "content": card_html(card, base) + xml_text(str(Markup("<p>{}</p>").format(card.abstract))),
    }


def public_feed() -> Page:
    base = get_settings().base_url
    with session_scope() as session:
        cards = trending(session).cards[:ENTRIES]
    entries = [paper_entry(card, base) for card in cards]
    updated = max((card.changed for card in cards), default=EPOCH)
    feed = {
        "id": f"{base}/feed.atom",
        "title": "Trending papers",
        "subtitle": "The day's most upvoted arXiv and Hugging Face papers.",
        "updated": stamp(updated),
        "self_url": f"{base}/feed.atom",
        "html_url": f"{base}/",
    }
    return render(
        "feed.atom.xml",
        {"feed": feed, "entries": entries},
        media_type=ATOM,
        last_modified=updated if cards else None,
    )


@router.get("/feed.atom")
async def feed(request: Request) -> Response:
    """The latest day's trending papers as Atom 1.0."""
    return await cached(request, public_feed)


def personal_page(token: str) -> Page:
    base = get_settings().base_url
    with session_scope() as session:
        data: PersonalFeed = personal_feed(session, token)
        subscriber_id, generation = data.subscriber_id, data.generation
    entries = []
    unique = {card.arxiv_id: card for d in data.digests for card in d.cards}
    html = {arxiv_id: card_html(card, base) for arxiv_id, card in unique.items()}
    for digest in data.digests:
        day = digest.edition_key.split("-", 1)[-1]
        view = links_for(subscriber_id, generation, digest.edition_key).view or f"{base}/"
        entries.append(
            {
                "id": f"urn:paper-newsletter:delivery:{digest.delivery_id}",
                "title": f"Your digest of {day}: {len(digest.cards)} papers",
                "updated": stamp(digest.sent_at),
                "published": stamp(digest.sent_at),
                "url": view,
                "authors": [],
                "summary": xml_text("; ".join(card.title for card in digest.cards)[:500]),
                "content": "".join(html[card.arxiv_id] for card in digest.cards),
            }
        )
    updated = max((d.sent_at for d in data.digests), default=EPOCH)
    feed = {
        "id": f"urn:paper-newsletter:feed:{subscriber_id}",
        "title": "Your trending papers digests",
        "subtitle": "The papers each of your digests picked for you.",
        "updated": stamp(updated),
        "self_url": f"{base}/feeds/{token}.atom",
        "html_url": f"{base}/",
    }
    return render(
        "feed.atom.xml",
        {"feed": feed, "entries": entries},
        media_type=ATOM,
        last_modified=updated if data.digests else None,
        private=True,
    )


@router.get("/feeds/{token}.atom")
async def personal(request: Request, token: str) -> Response:
    """A reader's own digests. The URL is a credential: no shared caching, no indexing."""
    try:
        version = await run_in_threadpool(_version, token)
    except RevokedToken:
        return _feed_error(410, "This feed address was replaced or the subscription ended.")
    except InvalidToken as exc:
        return _feed_error(404, str(exc))
    # Checked on every request (revocation is immediate); rendered once per version.
    response = await cached(request, lambda: personal_page(token), key=("feed", token, version))
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _version(token: str) -> tuple[int, int, int, datetime | None]:
    with session_scope() as session:
        return feed_version(session, token)


def _feed_error(status: int, message: str) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8")
