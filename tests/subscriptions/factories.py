"""Builders for subscribers, sent digests and outbox reading (web and subscription tests)."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from newsletter.db import ensure_schema, session_scope
from newsletter.models import (
    Delivery,
    DeliveryState,
    Edition,
    Paper,
    Subscriber,
    SubscriberStatus,
)
from newsletter.subscriptions.service import Preferences, add_subscriber
from newsletter.timeutil import utcnow


def make_subscriber(
    address: str = "reader@example.org",
    *,
    status: str = SubscriberStatus.ACTIVE,
    keywords: tuple[str, ...] = ("diffusion",),
    timezone: str = "Europe/Berlin",
) -> Subscriber:
    ensure_schema()
    with session_scope() as session:
        subscriber = add_subscriber(
            session,
            address,
            Preferences(keywords=keywords, timezone=timezone),
            confirmed=status == SubscriberStatus.ACTIVE,
        )
        subscriber.status = status
        session.flush()
        session.refresh(subscriber)
        return subscriber


def reload(subscriber_id: int) -> Subscriber:
    with session_scope() as session:
        return session.get_one(Subscriber, subscriber_id)


def make_sent_digest(
    subscriber_id: int,
    papers: list[tuple[str, str]],
    *,
    edition_key: str = "daily-2026-11-25",
    message_id: str | None = None,
) -> int:
    """Store papers and a sent Delivery carrying them; return the delivery id."""
    with session_scope() as session:
        edition = Edition(
            key=edition_key,
            frequency="daily",
            window_start=datetime(2026, 11, 24, tzinfo=UTC),
            window_end=datetime(2026, 11, 26, tzinfo=UTC),
            candidate_ids=[p[0] for p in papers],
        )
        session.add(edition)
        for arxiv_id, title in papers:
            if session.query(Paper).filter_by(arxiv_id=arxiv_id).one_or_none() is None:
                session.add(
                    Paper(
                        arxiv_id=arxiv_id,
                        title=title,
                        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
                        authors=[],
                        categories=["cs.LG"],
                        sources=["test"],
                    )
                )
        session.flush()
        delivery = Delivery(
            edition_id=edition.id,
            subscriber_id=subscriber_id,
            state=DeliveryState.SENT,
            papers=[{"arxiv_id": a, "score": 1.0, "reason": "test"} for a, _ in papers],
            provider_message_id=message_id,
            sent_at=utcnow() - timedelta(hours=12),
        )
        session.add(delivery)
        session.flush()
        return delivery.id


def outbox_messages(outbox: Path, recipient: str | None = None) -> list[EmailMessage]:
    """Parse every .eml in the outbox (oldest first), optionally for one recipient."""
    if not outbox.exists():
        return []
    messages = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if recipient is None or message["To"] == recipient:
            messages.append(message)
    return messages


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, kind: str) -> str:
    """Return the path of the first /<kind>/<token> link in the message's text part."""
    match = re.search(rf"https?://[^\s/]+(/{kind}/[A-Za-z0-9_.\-]+)", text_of(message))
    assert match, f"no /{kind}/ link in:\n{text_of(message)}"
    return match.group(1)
