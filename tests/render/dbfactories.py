"""Rows for render tests that need the database: papers, a reader, an edition, a delivery."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from newsletter.models import Delivery, Edition, Paper, Subscriber
from tests.render.factories import ABSTRACT

KEY = "daily-2026-11-26"


def add_papers(session: Session, count: int, **overrides: object) -> list[Paper]:
    papers = []
    for n in range(1, count + 1):
        arxiv_id = f"2411.{n:05d}"
        fields: dict[str, object] = {
            "arxiv_id": arxiv_id,
            "title": f"Agents that notice when the world changes, part {n}",
            "abstract": ABSTRACT,
            "authors": [{"name": f"Author {j}"} for j in range(n % 6 + 1)],
            "categories": ["cs.LG", "cs.CL"],
            "upvotes": n * 3,
            "abs_url": f"https://arxiv.org/abs/{arxiv_id}",
            "pdf_url": f"https://arxiv.org/pdf/{arxiv_id}",
            "hf_url": f"https://huggingface.co/papers/{arxiv_id}",
            "published_at": datetime(2026, 11, 25, tzinfo=UTC),
        }
        fields.update(overrides)
        papers.append(Paper(**fields))
    session.add_all(papers)
    session.flush()
    return papers


def add_delivery(
    session: Session,
    papers: list[Paper],
    *,
    email: str = "ada@example.org",
    fmt: str = "html",
    key: str = KEY,
) -> tuple[Subscriber, Edition, Delivery]:
    subscriber = Subscriber(
        email=email, status="active", timezone="Europe/London", send_hour=7, format=fmt
    )
    edition = Edition(
        key=key,
        frequency="daily",
        window_start=datetime(2026, 11, 25, tzinfo=UTC),
        window_end=datetime(2026, 11, 27, tzinfo=UTC),
        candidate_ids=[p.arxiv_id for p in papers],
    )
    session.add_all([subscriber, edition])
    session.flush()
    delivery = Delivery(
        edition_id=edition.id,
        subscriber_id=subscriber.id,
        papers=[
            {"arxiv_id": p.arxiv_id, "score": 1.0 - i / 100, "reason": f"matches 'agents' ({i})"}
            for i, p in enumerate(papers)
        ],
    )
    session.add(delivery)
    session.flush()
    return subscriber, edition, delivery
