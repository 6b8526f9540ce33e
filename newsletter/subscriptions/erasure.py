"""A reader's own data: everything we hold about them as JSON, and forgetting them.

The preferences page ("Download my data", "Delete me") and /admin call these same
functions. Erasing deletes the subscriber row, and with it (foreign keys, ON DELETE
CASCADE) their interests, feedback, deliveries, signup requests and transactional
emails, and the stored embedding of their description; SES events that name the
address are kept for the bounce and complaint rates but lose the address. What stays
is one suppression row holding `address_hash`, so an import of an old list cannot
quietly subscribe them again.

The hash is a plain SHA-256 of the normalised address, not a keyed one: it must match
for as long as the list lives, and a rotated secret key would silently let erased
readers back in. It proves nothing to someone who does not already know the address.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.models import (
    Delivery,
    Edition,
    EmailEvent,
    Feedback,
    Interest,
    InterestKind,
    Subscriber,
    Suppression,
    SuppressionReason,
    TextEmbedding,
    TransactionalMail,
)
from newsletter.ranking.vectors import digest
from newsletter.subscriptions.validation import InvalidInput, normalise_email

HASH_PREFIX = "sha256:"
# Domain separation: this hash is for erasure lists only, never comparable elsewhere.
_SALT = b"newsletter-erasure-v1:"


def address_hash(email: str) -> str:
    """Return the stable hash kept for an erased address ("sha256:" + 64 hex digits).

    The address is normalised the way signups store it, so " Ada@Example.ORG" and
    "ada@example.org" hash alike; an address that does not validate is hashed as
    trimmed and lower-cased (an import's bad row must still be comparable).
    """
    try:
        canonical = normalise_email(email)
    except InvalidInput:
        canonical = email.strip().lower()
    digest = hashlib.sha256(_SALT + canonical.encode("utf-8")).hexdigest()
    return HASH_PREFIX + digest


def is_erased(session: Session, email: str) -> bool:
    """Tell whether this address belongs to a reader who asked to be forgotten."""
    found = session.scalar(
        select(Suppression.id).where(
            Suppression.email == address_hash(email),
            Suppression.reason == SuppressionReason.ERASED,
        )
    )
    return found is not None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def reader_data(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything we hold about one reader, as plain JSON-ready data.

    Profile and interests, feedback, every delivery with the papers it carried and the
    SES events about it, the transactional emails, and any suppression of the address.
    """
    deliveries = session.execute(
        select(Delivery, Edition.key)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    ).all()
    mails = session.scalars(
        select(TransactionalMail)
        .where(TransactionalMail.subscriber_id == subscriber.id)
        .order_by(TransactionalMail.id)
    ).all()
    message_ids = [d.provider_message_id for d, _ in deliveries if d.provider_message_id]
    message_ids += [m.provider_message_id for m in mails if m.provider_message_id]
    events = session.scalars(
        select(EmailEvent)
        .where(
            or_(
                EmailEvent.recipient == subscriber.email,
                EmailEvent.provider_message_id.in_(message_ids),
            )
        )
        .order_by(EmailEvent.id)
    ).all()
    feedback = session.scalars(
        select(Feedback).where(Feedback.subscriber_id == subscriber.id).order_by(Feedback.id)
    ).all()
    suppression = session.scalar(select(Suppression).where(Suppression.email == subscriber.email))
    interests: dict[str, list[str]] = {}
    for interest in subscriber.interests:
        interests.setdefault(interest.kind, []).append(interest.value)
    return {
        "profile": {
            "email": subscriber.email,
            "status": subscriber.status,
            "timezone": subscriber.timezone,
            "send_hour": subscriber.send_hour,
            "frequency": subscriber.frequency,
            "weekday": subscriber.weekday,
            "max_papers": subscriber.max_papers,
            "format": subscriber.format,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
            "interests": interests,
        },
        "feedback": [
            {"arxiv_id": f.arxiv_id, "kind": f.kind, "at": _iso(f.created_at)} for f in feedback
        ],
        "deliveries": [
            {
                "edition": key,
                "state": d.state,
                "sent_at": _iso(d.sent_at),
                "message_id": d.provider_message_id,
                "papers": [
                    {"arxiv_id": p.get("arxiv_id"), "reason": p.get("reason")}
                    for p in d.papers or []
                ],
            }
            for d, key in deliveries
        ],
        "emails": [
            {"kind": m.kind, "to": m.recipient, "state": m.state, "sent_at": _iso(m.sent_at)}
            for m in mails
        ],
        "email_events": [
            {
                "type": e.event_type,
                "message_id": e.provider_message_id,
                "detail": e.detail,
                "at": _iso(e.received_at),
            }
            for e in events
        ],
        "suppression": (
            {"reason": suppression.reason, "since": _iso(suppression.created_at)}
            if suppression
            else None
        ),
    }


def _forget_description(session: Session, subscriber: Subscriber) -> None:
    """Delete the stored embedding of the reader's own description (free text: theirs).

    Keywords are shared vocabulary and stay; a description stays only while another
    reader's is word for word the same.
    """
    parts = [i.value for i in subscriber.interests if i.kind == InterestKind.DESCRIPTION]
    text = " ".join(parts)
    if not text:
        return
    shared = session.scalar(
        select(Interest.id).where(
            Interest.kind == InterestKind.DESCRIPTION,
            Interest.value == text,
            Interest.subscriber_id != subscriber.id,
        )
    )
    if shared is None:
        session.execute(delete(TextEmbedding).where(TextEmbedding.digest == digest(text)))


def erase_subscriber(session: Session, subscriber_id: int) -> str | None:
    """Forget one reader for good; return the hash kept, or None if they were not there.

    Idempotent: a second call (a double click) finds no row and changes nothing.
    """
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    address = subscriber.email
    hashed = address_hash(address)
    message_ids = list(
        session.scalars(
            select(Delivery.provider_message_id).where(
                Delivery.subscriber_id == subscriber_id,
                Delivery.provider_message_id.is_not(None),
            )
        )
    )
    message_ids += list(
        session.scalars(
            select(TransactionalMail.provider_message_id).where(
                TransactionalMail.subscriber_id == subscriber_id,
                TransactionalMail.provider_message_id.is_not(None),
            )
        )
    )
    # Events stay (they are the bounce and complaint rates) but no longer say who.
    session.execute(
        update(EmailEvent)
        .where(
            or_(
                EmailEvent.recipient == address,
                EmailEvent.provider_message_id.in_(message_ids),
            )
        )
        .values(recipient=None, detail=None, payload={})
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Suppression).where(Suppression.email == address))
    _forget_description(session, subscriber)
    session.expunge(subscriber)
    # ON DELETE CASCADE takes interests, feedback, deliveries, requests and emails.
    session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
    if session.scalar(select(Suppression.id).where(Suppression.email == hashed)) is None:
        try:
            with session.begin_nested():
                session.add(Suppression(email=hashed, reason=SuppressionReason.ERASED))
        except IntegrityError:
            pass  # an erasure at the same moment kept the same hash: as good as ours
    session.flush()
    return hashed
