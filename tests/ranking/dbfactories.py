"""Rows for pipeline-level ranking tests: papers, a daily edition, a pending delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from newsletter.models import Delivery, Edition, Paper
from newsletter.ranking.profile import CandidatePaper
from tests.ranking.factories import NOW


def add_papers(session: Session, papers: Sequence[CandidatePaper], first_seen: datetime) -> None:
    for p in papers:
        session.add(
            Paper(
                arxiv_id=p.arxiv_id,
                title=p.title,
                abstract=p.abstract,
                categories=p.categories,
                upvotes=p.upvotes,
                published_at=p.published_at,
                first_seen_at=first_seen,
            )
        )


def daily_edition(session: Session, candidates: Sequence[CandidatePaper], days: int = 0) -> Edition:
    """The daily edition `days` after NOW's (negative: earlier), flushed so it has an id."""
    start = NOW + timedelta(days=days)
    edition = Edition(
        key=f"daily-{start.date().isoformat()}",
        frequency="daily",
        window_start=start,
        window_end=start + timedelta(days=1),
        candidate_ids=[p.arxiv_id for p in candidates],
    )
    session.add(edition)
    session.flush()
    return edition


def pending_delivery(session: Session, edition_id: int, subscriber_id: int) -> Delivery:
    """A delivery planned at NOW and not picked yet, flushed so it has an id."""
    delivery = Delivery(edition_id=edition_id, subscriber_id=subscriber_id, created_at=NOW)
    session.add(delivery)
    session.flush()
    return delivery
