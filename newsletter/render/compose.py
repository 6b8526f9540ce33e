"""Compose one delivery's finished email from its recorded picks and the edition's parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.delivery.base import OutgoingEmail
from newsletter.models import Delivery, Edition, EmailFormat, Paper, Subscriber
from newsletter.render.digest import (
    HTML_LIMIT,
    Card,
    DigestPaper,
    EditionLabels,
    Reader,
    render_digest,
)
from newsletter.render.mime import Envelope, digest_bytes
from newsletter.render.papers import digest_paper
from newsletter.render.parts import Candidates, Composed, edition_parts
from newsletter.render.signing import click_urls, direct_urls, reader_links
from newsletter.render.trending import hidden_by, load_pool, outside_interests
from newsletter.schedule import next_due_label


def picks_of(session: Session, recorded: Sequence[dict[str, Any]]) -> list[Card]:
    """Turn a Delivery's recorded picks into papers, in order; papers gone since are left out."""
    ids = [str(p["arxiv_id"]) for p in recorded]
    papers = {p.arxiv_id: p for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(ids)))}
    return [
        Card(digest_paper(papers[str(p["arxiv_id"])]), str(p.get("reason") or ""))
        for p in recorded
        if str(p["arxiv_id"]) in papers
    ]


def reader_for(subscriber: Subscriber, edition_key: str, pool: int = 0) -> Reader:
    links = reader_links(subscriber.id, subscriber.token_generation, edition_key)
    return Reader(
        subscriber_id=subscriber.id,
        generation=subscriber.token_generation,
        email=subscriber.email,
        view_url=links.view or "",
        preferences_url=links.preferences,
        unsubscribe_url=links.unsubscribe,
        unsubscribe_mailto=links.unsubscribe_mailto,
        next_due=next_due_label(subscriber),
        pool=pool,
        tracking=subscriber.click_tracking is not False,
    )


def compose_digest(
    edition_key: str,
    reader: Reader,
    picks: Sequence[Card],
    *,
    html: bool = True,
    limit: int | None = HTML_LIMIT,
) -> Composed:
    """Compose from this process's cached parts of the edition (rendered on first use)."""
    parts = edition_parts(edition_key)
    return parts.compose(reader, picks, click_urls, limit=limit, with_html=html)


def message_bytes(composed: Composed, reader: Reader, *, html: bool = True) -> bytes:
    envelope = Envelope(
        to=reader.email,
        subject=composed.subject,
        unsubscribe_url=reader.unsubscribe_url,
        unsubscribe_mailto=reader.unsubscribe_mailto,
    )
    return digest_bytes(envelope, composed.text, composed.html if html else None)


def candidates_of(session: Session, edition: Edition) -> Candidates:
    """Load the edition's candidate papers by position (they are frozen, best first)."""
    ids = list(edition.candidate_ids or [])

    def load(start: int, count: int) -> list[DigestPaper]:
        wanted = ids[start : start + count]
        if not wanted:
            return []
        rows = session.scalars(select(Paper).where(Paper.arxiv_id.in_(wanted)))
        return [digest_paper(row) for row in rows]

    return load


def compose_delivery(session: Session, delivery: Delivery, subscriber: Subscriber) -> OutgoingEmail:
    """Render and assemble the message for `delivery` (no side effects)."""
    edition = session.get_one(Edition, delivery.edition_id)
    edition_key = edition.key
    reader, picks = reader_and_picks(session, edition, delivery, subscriber)
    edition_parts(edition_key).ensure(picks, candidates_of(session, edition))
    html = subscriber.format != EmailFormat.TEXT
    composed = compose_digest(edition_key, reader, picks, html=html)
    return OutgoingEmail(
        delivery_id=delivery.id,
        recipient=subscriber.email,
        raw=message_bytes(composed, reader, html=html),
        html=composed.html_str if html else None,
        tags={"delivery": str(delivery.id), "edition": str(delivery.edition_id)},
    )


def view_html(session: Session, delivery: Delivery, subscriber: Subscriber) -> str:
    """The digest as the web shows it: the same email, every pick (no size trimming)."""
    edition = session.get_one(Edition, delivery.edition_id)
    reader, picks = reader_and_picks(session, edition, delivery, subscriber)
    return compose_digest(edition.key, reader, picks, limit=None).html_str


def reader_and_picks(
    session: Session, edition: Edition, delivery: Delivery, subscriber: Subscriber
) -> tuple[Reader, list[Card]]:
    """The reader's values and picks: their own, then "Also trending" unless turned off."""
    pool = edition.candidate_ids or []
    reader = reader_for(subscriber, edition.key, len(pool))
    picks = picks_of(session, delivery.papers or [])
    if subscriber.also_trending is not False and pool:
        parts = edition_parts(edition.key)
        # Keyed by the frozen candidates too: an edition key names one edition per database.
        frozen = hash(tuple(pool))
        if parts.trending is None or parts.trending[0] != frozen:
            parts.trending = (frozen, load_pool(session, pool))
        skip = {p.paper.arxiv_id for p in picks} | hidden_by(session, subscriber.id)
        picks += outside_interests(parts.trending[1], subscriber.interests, skip)
    return reader, picks


PUBLIC_PICKS = 10


def public_html(session: Session, edition: Edition) -> str:
    """The edition for anyone: its most upvoted candidates, direct links, nothing personal.

    Shown at a reader's /digest/ link once it is revoked (unsubscribed, address changed):
    the link keeps working, without anything about that reader.
    """
    base = get_settings().base_url + "/"
    reader = Reader(
        subscriber_id=0,
        generation=0,
        email="",
        view_url=base,
        preferences_url=base,
        unsubscribe_url=base,
        unsubscribe_mailto="",
        tracking=False,
    )
    papers = load_pool(session, edition.candidate_ids or [])[:PUBLIC_PICKS]
    picks = [Card(paper) for paper in papers]
    labels = EditionLabels.from_key(edition.key)
    return render_digest(
        labels, reader, picks, lambda _reader, paper: direct_urls(paper), public=True
    ).html
