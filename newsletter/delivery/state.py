"""The Delivery state machine: claims and outcomes as conditional updates.

pending -> sending -> sent | failed | suppressed | skipped, and sending -> uncertain when a
lease runs out (the worker died between the provider accepting and our commit). A claim
is `UPDATE ... WHERE state = 'pending'`: if no row changed, someone else has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from newsletter.config import get_settings
from newsletter.models import Delivery, DeliveryState, Subscriber, SubscriberStatus, Suppression
from newsletter.timeutil import utcnow


def lease() -> timedelta:
    """How long a claim lasts: longer than any one provider call can take."""
    return timedelta(seconds=get_settings().send.lease_seconds)


def claim(
    session: Session,
    delivery_id: int,
    now: datetime | None = None,
    *,
    email: str | None = None,
) -> bool:
    """Move a composed pending delivery to `sending` and count the attempt; False if taken.

    With `email`, the same statement also insists the reader is still active and the
    address not suppressed, so the send-time check costs no extra round trip; a False
    then means "taken or refused" and the caller asks which.
    """
    now = now or utcnow()
    conditions = [
        Delivery.id == delivery_id,
        Delivery.state == DeliveryState.PENDING,
        Delivery.papers.is_not(None),
    ]
    if email is not None:
        conditions += [
            exists().where(
                Subscriber.id == Delivery.subscriber_id,
                Subscriber.status == SubscriberStatus.ACTIVE,
            ),
            ~exists().where(Suppression.email == email),
        ]
    result = session.execute(
        update(Delivery)
        .where(*conditions)
        .values(
            state=DeliveryState.SENDING,
            attempts=Delivery.attempts + 1,
            lease_until=now + lease(),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_many(
    session: Session, delivery_ids: Sequence[int], now: datetime | None = None
) -> list[int]:
    """Claim the composed, pending deliveries among `delivery_ids` in one statement.

    Returns the ids now `sending` (with their attempt counted). Like `claim(email=...)`,
    a row whose reader left or whose address is suppressed is not claimed: the caller
    asks `refusals` why a row was passed over. The rows are locked in id order
    (`FOR UPDATE` on PostgreSQL), so two claimers of overlapping chunks wait for each
    other, re-check the state, and never deadlock.
    """
    if not delivery_ids:
        return []
    now = now or utcnow()
    row = aliased(Delivery)
    claimable = (
        select(row.id)
        .where(
            row.id.in_(list(delivery_ids)),
            row.state == DeliveryState.PENDING,
            row.papers.is_not(None),
            exists().where(
                Subscriber.id == row.subscriber_id,
                Subscriber.status == SubscriberStatus.ACTIVE,
                ~exists().where(Suppression.email == Subscriber.email),
            ),
        )
        .order_by(row.id)
        .with_for_update(of=row)
    )
    claimed = session.scalars(
        update(Delivery)
        .where(
            Delivery.id.in_(claimable.scalar_subquery()),
            Delivery.state == DeliveryState.PENDING,
        )
        .values(
            state=DeliveryState.SENDING,
            attempts=Delivery.attempts + 1,
            lease_until=now + lease(),
            updated_at=now,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


def refusals(session: Session, delivery_ids: Sequence[int]) -> dict[int, str]:
    """Say why each still-pending delivery among these may not be sent, if it may not."""
    if not delivery_ids:
        return {}
    suppressed = exists().where(Suppression.email == Subscriber.email)
    rows = session.execute(
        select(Delivery.id, Subscriber.status, suppressed)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.state == DeliveryState.PENDING)
    )
    out: dict[int, str] = {}
    for delivery_id, status, on_list in rows:
        if status != SubscriberStatus.ACTIVE:
            out[delivery_id] = f"address is {status}"
        elif on_list:
            out[delivery_id] = "address is on the suppression list"
    return out


@dataclass(frozen=True)
class Finish:
    """One outcome to record: the row's new state, its provider id or its error."""

    delivery_id: int
    state: DeliveryState
    message_id: str | None = None
    error: str | None = None


# The states a claimed row may be recorded from (see the mark_* functions below).
_FROM: dict[DeliveryState, tuple[DeliveryState, ...]] = {
    DeliveryState.SENT: (DeliveryState.SENDING, DeliveryState.UNCERTAIN),
    DeliveryState.FAILED: (DeliveryState.SENDING,),
    DeliveryState.UNCERTAIN: (DeliveryState.SENDING,),
    DeliveryState.PENDING: (DeliveryState.SENDING,),
    DeliveryState.SUPPRESSED: (DeliveryState.PENDING,),
}


def finish_many(session: Session, outcomes: Sequence[Finish]) -> None:
    """Record many outcomes in one transaction: one executemany per target state.

    Each row's update is as conditional as its one-row twin (`mark_sent`, `release`...),
    so recording twice, or after the lease expired, changes nothing it should not.
    """
    now = utcnow()
    table = Delivery.__table__
    assert isinstance(table, Table)
    by_state: dict[DeliveryState, list[Finish]] = {}
    for outcome in outcomes:
        by_state.setdefault(outcome.state, []).append(outcome)
    for target, group in by_state.items():
        values: dict[str, object] = {
            "state": target,
            "lease_until": None,
            "updated_at": now,
            "last_error": bindparam("b_error"),
        }
        if target == DeliveryState.SENT:
            values |= {"provider_message_id": bindparam("b_message"), "sent_at": now}
        statement = (
            update(table)
            # or_ rather than IN: an expanding IN cannot be used with executemany.
            .where(
                table.c.id == bindparam("b_id"),
                or_(*(table.c.state == s for s in _FROM[target])),
            )
            .values(**values)
        )
        session.connection().execute(
            statement,
            [
                {"b_id": o.delivery_id, "b_error": o.error[:2000] if o.error else None}
                | ({"b_message": o.message_id} if target == DeliveryState.SENT else {})
                for o in group
            ],
        )


def _finish(
    session: Session,
    delivery_id: int,
    state: DeliveryState,
    *,
    expected: DeliveryState | tuple[DeliveryState, ...] = DeliveryState.SENDING,
    **values: object,
) -> bool:
    now = utcnow()
    states = expected if isinstance(expected, tuple) else (expected,)
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(states))
        .values(state=state, lease_until=None, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, delivery_id: int, message_id: str) -> bool:
    """Record the provider's acceptance; also from `uncertain` (we now know it went out)."""
    return _finish(
        session,
        delivery_id,
        DeliveryState.SENT,
        expected=(DeliveryState.SENDING, DeliveryState.UNCERTAIN),
        provider_message_id=message_id,
        sent_at=utcnow(),
        last_error=None,
    )


def mark_failed(session: Session, delivery_id: int, error: str) -> bool:
    return _finish(session, delivery_id, DeliveryState.FAILED, last_error=error[:2000])


def mark_suppressed(session: Session, delivery_id: int, reason: str) -> bool:
    """Suppress a pending delivery (checked at send time, before any claim)."""
    return _finish(
        session,
        delivery_id,
        DeliveryState.SUPPRESSED,
        expected=DeliveryState.PENDING,
        last_error=reason,
    )


def mark_uncertain(session: Session, delivery_id: int, error: str) -> bool:
    """Record that the provider may or may not have sent it (no automatic resend)."""
    return _finish(session, delivery_id, DeliveryState.UNCERTAIN, last_error=error[:2000])


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


def stale_pending(
    session: Session, older_than: timedelta, now: datetime | None = None
) -> list[int]:
    """Return pending rows nobody touched for `older_than`, and touch them.

    Their task messages were lost (a broker restart, a crash between commit and
    enqueue, a retry held by a worker that died): the caller puts them back on the
    queues. Touching them means the next sweep leaves them alone for another period;
    a duplicate task is harmless because the claim decides.
    """
    now = now or utcnow()
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.state == DeliveryState.PENDING, Delivery.updated_at < now - older_than)
            .order_by(Delivery.id)
            .limit(50_000)
        )
    )
    for start in range(0, len(ids), 1000):
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ids[start : start + 1000]),
                Delivery.state == DeliveryState.PENDING,
            )
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def pending_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Delivery.id).where(Delivery.state == DeliveryState.PENDING).order_by(Delivery.id)
        )
    )


def reopen(session: Session, from_state: DeliveryState, edition_id: int | None = None) -> list[int]:
    """Put failed or uncertain rows back to `pending` (an operator's decision); return ids."""
    query = select(Delivery.id).where(Delivery.state == from_state)
    if edition_id is not None:
        query = query.where(Delivery.edition_id == edition_id)
    ids = list(session.scalars(query.order_by(Delivery.id)))
    for start in range(0, len(ids), 1000):
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start : start + 1000]), Delivery.state == from_state)
            .values(
                state=DeliveryState.PENDING,
                lease_until=None,
                updated_at=utcnow(),
                last_error=f"reopened from {from_state} by an operator",
            )
            .execution_options(synchronize_session=False)
        )
    return ids
