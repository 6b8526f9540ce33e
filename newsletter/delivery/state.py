"""The Delivery state machine: claims and outcomes as conditional updates.

pending -> sending -> sent | failed | suppressed | skipped, and sending -> uncertain when a
lease runs out (the worker died between the provider accepting and our commit). A claim
is `UPDATE ... WHERE state = 'pending'`: if no row changed, someone else has it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from newsletter.models import Delivery, DeliveryState
from newsletter.timeutil import utcnow

LEASE = timedelta(minutes=10)


def claim(session: Session, delivery_id: int, now: datetime | None = None) -> bool:
    """Move a composed pending delivery to `sending` and count the attempt; False if taken."""
    now = now or utcnow()
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.papers.is_not(None),
        )
        .values(
            state=DeliveryState.SENDING,
            attempts=Delivery.attempts + 1,
            lease_until=now + LEASE,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _finish(
    session: Session,
    delivery_id: int,
    state: DeliveryState,
    *,
    expected: DeliveryState = DeliveryState.SENDING,
    **values: object,
) -> bool:
    now = utcnow()
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == expected)
        .values(state=state, lease_until=None, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, delivery_id: int, message_id: str) -> bool:
    return _finish(
        session,
        delivery_id,
        DeliveryState.SENT,
        provider_message_id=message_id,
        sent_at=utcnow(),
        last_error=None,
    )


def mark_failed(session: Session, delivery_id: int, error: str) -> bool:
    return _finish(session, delivery_id, DeliveryState.FAILED, last_error=error[:2000])


def mark_suppressed(session: Session, delivery_id: int, reason: str) -> bool:
    return _finish(session, delivery_id, DeliveryState.SUPPRESSED, last_error=reason)


def release(session: Session, delivery_id: int, error: str) -> bool:
    """Give a claimed delivery back (nothing was sent) so a retry can claim it again."""
    return _finish(session, delivery_id, DeliveryState.PENDING, last_error=error[:2000])


def skip(session: Session, delivery_id: int, reason: str) -> bool:
    return _finish(
        session,
        delivery_id,
        DeliveryState.SKIPPED,
        expected=DeliveryState.PENDING,
        last_error=reason,
    )


def expire_leases(session: Session, now: datetime | None = None) -> int:
    """Turn `sending` rows whose lease ran out into `uncertain` (never resent automatically)."""
    now = now or utcnow()
    result = session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.lease_until < now)
        .values(
            state=DeliveryState.UNCERTAIN,
            last_error="lease expired while sending: the message may or may not have gone out",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
