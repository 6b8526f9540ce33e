"""What the Atom feeds list: the public trending papers, and one reader's own digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.models import Delivery, DeliveryState, Edition
from newsletter.site.cards import Card, cards_by_id
from newsletter.subscriptions.signup import subscriber_for_token
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import as_utc

DIGESTS = 20


@dataclass(frozen=True)
class DigestEntry:
    delivery_id: int
    edition_key: str
    sent_at: datetime
    cards: list[Card]


@dataclass(frozen=True)
class PersonalFeed:
    subscriber_id: int
    generation: int
    digests: list[DigestEntry]


def feed_url(subscriber_id: int, generation: int) -> str:
    """The reader's own feed: signed, and revoked with their other links."""
    token = make_token("feed", subscriber_id, generation)
    return f"{get_settings().base_url}/feeds/{token}.atom"


def personal_feed(session: Session, token: str) -> PersonalFeed:
    """The reader's last DIGESTS sent digests, newest first (raises InvalidToken)."""
    subscriber = subscriber_for_token(session, "feed", token)
    rows = session.execute(
        select(Delivery.id, Delivery.papers, Delivery.sent_at, Edition.key)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.state == DeliveryState.SENT,
            Delivery.sent_at.is_not(None),
        )
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(DIGESTS)
    ).all()
    wanted = list(
        dict.fromkeys(p["arxiv_id"] for row in rows for p in row.papers or [] if "arxiv_id" in p)
    )
    cards = {card.arxiv_id: card for card in cards_by_id(session, wanted)}
    digests = [
        DigestEntry(
            delivery_id=row.id,
            edition_key=row.key,
            sent_at=as_utc(row.sent_at),
            cards=[cards[p["arxiv_id"]] for p in (row.papers or []) if p.get("arxiv_id") in cards],
        )
        for row in rows
    ]
    return PersonalFeed(subscriber.id, subscriber.token_generation, digests)
