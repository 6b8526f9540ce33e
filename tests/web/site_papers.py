"""Papers, editions and digests for the public site's tests, with real-looking texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from newsletter.db import session_scope
from newsletter.ingest.normalise import clean_prose
from newsletter.models import Delivery, DeliveryState, Edition, Paper

DAY = datetime(2026, 11, 25, 12, tzinfo=UTC)


def sample_texts() -> list[dict[str, Any]]:
    """The bundled sample's titles and abstracts (84 real papers)."""
    raw = resources.files("newsletter.data").joinpath("sample_papers.json").read_text("utf-8")
    return list(json.loads(raw)["papers"])


def add_paper(arxiv_id: str, title: str, abstract: str = "", **fields: Any) -> None:
    fields.setdefault("published_at", DAY)
    fields.setdefault("authors", [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}])
    with session_scope() as session:
        session.add(
            Paper(
                arxiv_id=arxiv_id,
                title=title,
                abstract=abstract,
                categories=fields.pop("categories", ["cs.LG"]),
                sources=["test"],
                **fields,
            )
        )


def add_sample(count: int = 84, day: datetime = DAY) -> list[str]:
    """Store the sample's papers under arXiv-style ids, newest upvoted most; return the ids."""
    ids = []
    for n, item in enumerate(sample_texts()[:count]):
        arxiv_id = f"2511.{n + 1:05d}"
        add_paper(
            arxiv_id,
            clean_prose(item["title"]),
            clean_prose(item["abstract"]),
            upvotes=item.get("upvotes", 0),
            published_at=day - timedelta(minutes=n),
        )
        ids.append(arxiv_id)
    return ids


def add_edition(day: datetime, candidates: list[str]) -> int:
    with session_scope() as session:
        edition = Edition(
            key=f"daily-{day.date().isoformat()}",
            frequency="daily",
            window_start=day,
            window_end=day + timedelta(days=1),
            opened_at=day,
            candidate_ids=candidates,
        )
        session.add(edition)
        session.flush()
        return edition.id


def add_sent_delivery(edition_id: int, subscriber_id: int, picks: list[str], sent: datetime) -> int:
    with session_scope() as session:
        delivery = Delivery(
            edition_id=edition_id,
            subscriber_id=subscriber_id,
            state=DeliveryState.SENT,
            papers=[{"arxiv_id": i, "score": 1.0, "reason": "test"} for i in picks],
            sent_at=sent,
        )
        session.add(delivery)
        session.flush()
        return delivery.id
