"""Recording picks never rewrites a delivery another worker already moved on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from newsletter import db
from newsletter.models import Delivery, DeliveryState, Edition, Subscriber
from newsletter.ranking.readers import _record_picks


def make_delivery(state: str, papers: list | None) -> int:
    now = datetime(2026, 11, 26, 8, tzinfo=UTC)
    with db.session_scope() as session:
        subscriber = Subscriber(email="a@example.org", status="active")
        edition = Edition(
            key="daily-2026-11-26", frequency="daily", window_start=now, window_end=now
        )
        session.add_all([subscriber, edition])
        session.flush()
        delivery = Delivery(
            edition_id=edition.id, subscriber_id=subscriber.id, state=state, papers=papers
        )
        session.add(delivery)
        session.flush()
        return delivery.id


def test_a_stale_duplicate_pick_cannot_turn_a_sent_digest_into_skipped(db_url: str):
    picks = [{"arxiv_id": "2411.00001", "score": 1.0, "reason": "r"}]
    delivery_id = make_delivery(DeliveryState.SENT, picks)
    with db.session_scope() as session:
        assert _record_picks(session, delivery_id, [], datetime.now(UTC)) is False
    with db.session_scope() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.papers) == (DeliveryState.SENT, picks)


def test_picks_land_on_a_pending_unpicked_row_and_only_once(db_url: str):
    delivery_id = make_delivery(DeliveryState.PENDING, None)
    first = [{"arxiv_id": "2411.00001", "score": 1.0, "reason": "r"}]
    with db.session_scope() as session:
        assert _record_picks(session, delivery_id, first, datetime.now(UTC)) is True
        assert _record_picks(session, delivery_id, [], datetime.now(UTC)) is False
    with db.session_scope() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.papers) == (DeliveryState.PENDING, first)
