"""Compose one delivery's finished email from its recorded picks and the edition's parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.delivery.base import OutgoingEmail
from newsletter.models import Delivery, Edition, EmailFormat, Paper, Subscriber
from newsletter.render.digest import HTML_LIMIT, DigestPaper, Pick, Reader
from newsletter.render.mime import Envelope, digest_bytes
from newsletter.render.parts import Candidates, Composed, edition_parts
from newsletter.render.signing import click_urls, reader_links
from newsletter.schedule import next_due_label


def digest_paper(paper: Paper) -> DigestPaper:
    return DigestPaper(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract or "",
        authors=tuple(str(a.get("name", "")) for a in paper.authors or [] if isinstance(a, dict)),
        categories=tuple(paper.categories or ()),
        upvotes=paper.upvotes or 0,
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
        hf_url=paper.hf_url,
        code_url=paper.code_url,
        project_url=paper.project_url,
        thumbnail_url=paper.thumbnail_url,
    )


def picks_of(session: Session, recorded: Sequence[dict[str, Any]]) -> list[Pick]:
    """Turn a Delivery's recorded picks into papers, in order; papers gone since are left out."""
    ids = [str(p["arxiv_id"]) for p in recorded]
    papers = {p.arxiv_id: p for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(ids)))}
    return [
        Pick(digest_paper(papers[str(p["arxiv_id"])]), str(p.get("reason") or ""))
        for p in recorded
        if str(p["arxiv_id"]) in papers
    ]


def reader_for(subscriber: Subscriber, edition_key: str) -> Reader:
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
    )


def compose_digest(
    edition_key: str,
    reader: Reader,
    picks: Sequence[Pick],
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
    reader = reader_for(subscriber, edition_key)
    picks = picks_of(session, delivery.papers or [])
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
    edition_key = session.get_one(Edition, delivery.edition_id).key
    reader = reader_for(subscriber, edition_key)
    picks = picks_of(session, delivery.papers or [])
    return compose_digest(edition_key, reader, picks, limit=None).html_str
