"""Conditional updates that decide, in the database, which of several racing requests acts.

A page that mails someone (confirm, welcome, goodbye) or replaces someone's choices may
be hit twice at once: a double click, a mail scanner, a script. Reading a row and then
deciding in Python lets both requests see the same "not yet" and both act. Instead, each
function here is one UPDATE whose WHERE states the condition; the database applies it
to at most one of the racing transactions, and only the request whose UPDATE changed a
row goes on to send. PostgreSQL re-checks the WHERE after waiting for the row lock;
SQLite runs one writer at a time (busy timeout), so both behave the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session

from newsletter.models import Subscriber, SubscriberStatus

# The signup and change-of-address forms mail an address at most this often.
RESEND_INTERVAL = timedelta(minutes=10)


def _changed(session: Session, statement: Any) -> bool:
    result = session.execute(statement.execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def claim_mail_slot(session: Session, subscriber_id: int, now: datetime) -> bool:
    """Take the form's mail slot for this subscriber; False if it was taken moments ago."""
    last = Subscriber.last_signup_mail_at
    return _changed(
        session,
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .where(or_(last.is_(None), last <= now - RESEND_INTERVAL))
        .values(last_signup_mail_at=now),
    )


def release_mail_slot(session: Session, subscriber_id: int, claimed_at: datetime) -> None:
    """Give back a slot whose mail the provider refused, so the person can try again."""
    _changed(
        session,
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.last_signup_mail_at == claimed_at)
        .values(last_signup_mail_at=None),
    )


def claim_confirmation(
    session: Session, subscriber_id: int, generation: int, now: datetime
) -> bool:
    """Activate a pending (or returning) subscriber; False if another request already did."""
    return _changed(
        session,
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.token_generation == generation,
            Subscriber.status.in_([SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED]),
        )
        .values(status=SubscriberStatus.ACTIVE, confirmed_at=now, unsubscribed_at=None),
    )


def claim_address_change(
    session: Session, subscriber_id: int, generation: int, address: str
) -> bool:
    """Move the subscription to `address` and revoke older links, once per generation."""
    return _changed(
        session,
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.token_generation == generation)
        .values(email=address, token_generation=generation + 1),
    )


def claim_unsubscribe(session: Session, subscriber_id: int, now: datetime) -> str | None:
    """Unsubscribe and revoke every link; return the status it had, None if already done."""
    for status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        if _changed(
            session,
            update(Subscriber)
            .where(Subscriber.id == subscriber_id, Subscriber.status == status)
            .values(
                status=SubscriberStatus.UNSUBSCRIBED,
                unsubscribed_at=now,
                token_generation=Subscriber.token_generation + 1,
            ),
        ):
            return str(status)
    return None


def lock_subscriber(session: Session, subscriber_id: int) -> None:
    """Hold the subscriber's row until this transaction ends; call before reading it.

    A write is the one lock both databases take the same way: PostgreSQL locks the row
    (a second saver waits, then reads what the first one stored), SQLite takes its write
    lock. So two saves of the preferences page run one after the other and the last one
    wins whole, instead of each replacing only the interests it had read.
    """
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(token_generation=Subscriber.token_generation)
        .execution_options(synchronize_session=False)
    )
