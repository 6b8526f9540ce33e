"""What the Atom feeds list: the public trending papers, and one reader's own digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.models import Delivery, DeliveryState, Edition, Subscriber
from newsletter.site.cards import Card, cards_by_id
from newsletter.subscriptions.signup import subscriber_for_token
from newsletter.subscriptions.tokens import RevokedToken, make_token, read_token
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


def feed_version(session: Session, token: str) -> tuple[int, int, int, datetime | None]:
    """Check a feed link and name what it would show: (reader, generation, digests, newest).

    Two small queries, so a feed reader polling an unchanged feed costs no rendering,
    while a revoked link is refused at once (raises InvalidToken or RevokedToken).
    """
    data = read_token("feed", token)
    generation = session.scalar(
        select(Subscriber.token_generation).where(Subscriber.id == data.subscriber_id)
    )
    if generation is None or generation != data.generation:
        raise RevokedToken("This link is not valid any more.")
    count, newest = session.execute(
        select(func.count(), func.max(Delivery.sent_at)).where(
            Delivery.subscriber_id == data.subscriber_id,
            Delivery.state == DeliveryState.SENT,
        )
    ).one()
    return data.subscriber_id, generation, int(count), newest


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
