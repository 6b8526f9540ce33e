"""Compose one delivery's finished email from its recorded picks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.delivery.base import OutgoingEmail
from newsletter.models import Delivery, Edition, EmailFormat, Paper, Subscriber
from newsletter.render.digest import DigestPaper, RenderedEmail, render_digest
from newsletter.render.mime import build_message
from newsletter.schedule import next_due_label
from newsletter.subscriptions.links import links_for


def digest_papers(session: Session, picks: list[dict[str, object]]) -> list[DigestPaper]:
    ids = [str(p["arxiv_id"]) for p in picks]
    papers = {p.arxiv_id: p for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(ids)))}
    out = []
    for pick in picks:
        paper = papers.get(str(pick["arxiv_id"]))
        if paper is None:
            continue
        out.append(
            DigestPaper(
                arxiv_id=paper.arxiv_id,
                title=paper.title,
                abstract=paper.abstract,
                authors=[str(a.get("name", "")) for a in paper.authors or []],
                categories=list(paper.categories or []),
                upvotes=paper.upvotes or 0,
                reason=str(pick.get("reason", "")),
                abs_url=paper.abs_url,
                pdf_url=paper.pdf_url,
                hf_url=paper.hf_url,
                code_url=paper.code_url,
                thumbnail_url=paper.thumbnail_url,
            )
        )
    return out


def render_delivery(session: Session, delivery: Delivery, subscriber: Subscriber) -> RenderedEmail:
    edition_key = delivery_edition_key(session, delivery)
    return render_digest(
        email=subscriber.email,
        date_label=edition_label(edition_key),
        papers=digest_papers(session, delivery.papers or []),
        links=links_for(subscriber.id, subscriber.token_generation, edition_key),
        next_due=next_due_label(subscriber),
    )


def compose_delivery(session: Session, delivery: Delivery, subscriber: Subscriber) -> OutgoingEmail:
    """Render and assemble the message for `delivery` (no side effects)."""
    rendered = render_delivery(session, delivery, subscriber)
    links = links_for(subscriber.id, subscriber.token_generation)
    html = subscriber.format != EmailFormat.TEXT
    message = build_message(rendered, subscriber.email, links, html=html)
    return OutgoingEmail(
        delivery_id=delivery.id,
        recipient=subscriber.email,
        raw=message.as_bytes(),
        html=rendered.html if html else None,
        tags={"delivery": str(delivery.id), "edition": str(delivery.edition_id)},
    )


def delivery_edition_key(session: Session, delivery: Delivery) -> str:
    return session.get_one(Edition, delivery.edition_id).key


def edition_label(key: str) -> str:
    kind, _, rest = key.partition("-")
    return f"week {rest}" if kind == "weekly" else rest
