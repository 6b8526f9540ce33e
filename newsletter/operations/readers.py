"""One reader as an operator sees them, and what an operator may do to them.

Looked up by address: status and schedule, interests, the last deliveries with their
SES message ids and the events SES reported about each, the transactional emails,
and the suppression of the address (or that the reader asked to be erased).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from newsletter.models import (
    Delivery,
    Edition,
    EmailEvent,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
    TransactionalMail,
)
from newsletter.subscriptions.claims import claim_unsubscribe
from newsletter.subscriptions.erasure import is_erased
from newsletter.subscriptions.service import suppress as add_suppression
from newsletter.subscriptions.validation import normalise_email
from newsletter.timeutil import as_utc, utcnow

LAST_DELIVERIES = 10
LAST_EMAILS = 5


@dataclass
class ReaderView:
    query: str
    subscriber_id: int | None = None
    email: str | None = None
    status: str | None = None
    schedule: str = ""
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    interests: dict[str, list[str]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    suppression: dict[str, Any] | None = None
    erased: bool = False

    @property
    def found(self) -> bool:
        return self.subscriber_id is not None


def _events(session: Session, message_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if not message_ids:
        return out
    for event in session.scalars(
        select(EmailEvent)
        .where(EmailEvent.provider_message_id.in_(message_ids))
        .order_by(EmailEvent.received_at, EmailEvent.id)
    ):
        out.setdefault(event.provider_message_id or "", []).append(
            {
                "type": event.event_type,
                "detail": (event.detail or "")[:200],
                "at": as_utc(event.received_at),
            }
        )
    return out


def _suppression(session: Session, address: str) -> dict[str, Any] | None:
    row = session.scalar(select(Suppression).where(Suppression.email == address))
    if row is None:
        return None
    return {"reason": row.reason, "detail": row.detail, "since": as_utc(row.created_at)}


def find_reader(session: Session, query: str) -> ReaderView:
    """Look an address up (raises InvalidInput for something that is not an address)."""
    address = normalise_email(query)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return ReaderView(
            query=address,
            suppression=_suppression(session, address),
            erased=is_erased(session, address),
        )
    return reader_view(session, subscriber)


def reader_view(session: Session, subscriber: Subscriber) -> ReaderView:
    deliveries = session.execute(
        select(Delivery, Edition.key)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(LAST_DELIVERIES)
    ).all()
    mails = session.scalars(
        select(TransactionalMail)
        .where(TransactionalMail.subscriber_id == subscriber.id)
        .order_by(TransactionalMail.created_at.desc(), TransactionalMail.id.desc())
        .limit(LAST_EMAILS)
    ).all()
    ids = [d.provider_message_id for d, _ in deliveries if d.provider_message_id]
    ids += [m.provider_message_id for m in mails if m.provider_message_id]
    events = _events(session, ids)
    interests: dict[str, list[str]] = {}
    for interest in subscriber.interests:
        interests.setdefault(interest.kind, []).append(interest.value)
    when = f"{subscriber.send_hour:02d}:00 {subscriber.timezone}"
    return ReaderView(
        query=subscriber.email,
        subscriber_id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        schedule=f"{subscriber.frequency} at {when}, {subscriber.max_papers} papers, "
        f"{subscriber.format}",
        created_at=as_utc(subscriber.created_at),
        confirmed_at=as_utc(subscriber.confirmed_at) if subscriber.confirmed_at else None,
        interests=interests,
        deliveries=[
            {
                "id": d.id,
                "edition": key,
                "state": d.state,
                "sent_at": as_utc(d.sent_at) if d.sent_at else None,
                "message_id": d.provider_message_id,
                "error": (d.last_error or "")[:200],
                "events": events.get(d.provider_message_id or "", []),
            }
            for d, key in deliveries
        ],
        emails=[
            {
                "kind": m.kind,
                "state": m.state,
                "created_at": as_utc(m.created_at),
                "message_id": m.provider_message_id,
                "events": events.get(m.provider_message_id or "", []),
            }
            for m in mails
        ],
        suppression=_suppression(session, subscriber.email),
    )


# --- actions (each in the caller's transaction) ---------------------------------------


def suppress(session: Session, subscriber: Subscriber, detail: str) -> str:
    """Block the address by hand (a reader asked by email, a spam trap...)."""
    if _suppression(session, subscriber.email) is not None:
        return "the address was already suppressed"
    add_suppression(session, subscriber.email, SuppressionReason.MANUAL, detail or None)
    return "address suppressed: nothing more is sent to it"


def unsuppress(session: Session, subscriber: Subscriber) -> str:
    """Lift the suppression; a bounced reader becomes active again, a complaint does not.

    A complaint is the reader's own "never again": only a new signup of theirs undoes it.
    """
    removed = session.execute(delete(Suppression).where(Suppression.email == subscriber.email))
    if not removed.rowcount:  # type: ignore[attr-defined]
        return "the address was not suppressed"
    if subscriber.status == SubscriberStatus.BOUNCED and subscriber.confirmed_at:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.transient_bounces = 0
        return "suppression lifted; the reader is active again"
    if subscriber.status == SubscriberStatus.COMPLAINED:
        return (
            "suppression lifted; the reader complained, so stays stopped until they sign up again"
        )
    return "suppression lifted"


def unsubscribe(session: Session, subscriber: Subscriber) -> tuple[str, bool]:
    """Unsubscribe as the reader's own link would; return (message, send a goodbye)."""
    previous = claim_unsubscribe(session, subscriber.id, utcnow())
    add_suppression(session, subscriber.email, SuppressionReason.UNSUBSCRIBE)
    if previous is None:
        return "the reader was not subscribed", False
    return "unsubscribed; every earlier link is revoked", previous == SubscriberStatus.ACTIVE
