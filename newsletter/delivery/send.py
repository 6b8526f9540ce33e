"""Send one delivery through the state machine: the send is the last side effect.

Order: read and render (no side effects) -> breaker and rate limit (may wait) ->
suppression check and claim, one transaction (commit) -> provider call -> record the
outcome (commit). A crash after the provider accepted but before our commit leaves the
row in `sending`; its lease expiry makes it `uncertain`, never resent automatically.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import breaker, state
from newsletter.delivery.base import (
    AccountSendError,
    OutgoingEmail,
    PermanentSendError,
    QuotaSendError,
    Sender,
    TransientSendError,
    UncertainSendError,
)
from newsletter.delivery.ratelimit import QuotaExhausted, RateLimiter, RateLimitTimeout
from newsletter.logging_setup import update_context
from newsletter.models import Delivery, DeliveryState, Subscriber, SubscriberStatus
from newsletter.render.compose import compose_delivery
from newsletter.subscriptions.service import is_suppressed

log = logging.getLogger(__name__)

T = TypeVar("T")


class Outcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    UNCERTAIN = "uncertain"
    NOT_CLAIMED = "not_claimed"
    PAUSED = "paused"


def send_delivery(delivery_id: int, sender: Sender, limiter: RateLimiter) -> Outcome:
    """Send one delivery at most once (see `send_composed`)."""
    email = compose_chunk([delivery_id]).get(delivery_id, Outcome.NOT_CLAIMED)
    if isinstance(email, Outcome):
        return email
    return send_composed(email, sender, limiter)


def compose_chunk(delivery_ids: list[int]) -> dict[int, OutgoingEmail | Outcome]:
    """Render every pending, picked delivery of a chunk in one read-only session.

    Rows not pending (already sent, claimed by another worker) come back as
    NOT_CLAIMED; nothing here has a side effect, so a retried chunk may compose again.
    """
    out: dict[int, OutgoingEmail | Outcome] = {}
    with session_scope() as session:
        rows = session.execute(
            select(Delivery, Subscriber)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(
                Delivery.id.in_(delivery_ids),
                Delivery.state == DeliveryState.PENDING,
                Delivery.papers.is_not(None),
            )
        ).all()
        for delivery, subscriber in rows:
            out[delivery.id] = compose_delivery(session, delivery, subscriber)
    return {i: out.get(i, Outcome.NOT_CLAIMED) for i in delivery_ids}


def send_composed(email: OutgoingEmail, sender: Sender, limiter: RateLimiter) -> Outcome:
    """Send one composed delivery at most once.

    Raises TransientSendError (or RateLimitTimeout) for the caller to retry with
    backoff; the row is back to `pending` by then. Account-level errors open the
    breaker and return PAUSED.
    """
    delivery_id = email.delivery_id
    update_context(delivery_id=delivery_id, edition_id=email.tags.get("edition"))
    with session_scope() as session:
        if breaker.is_open(session):
            return Outcome.PAUSED
    try:
        limiter.acquire(timeout=60.0)
    except QuotaExhausted as exc:
        _trip(str(exc), quota=True)
        return Outcome.PAUSED
    with session_scope() as session:
        # Checked again right before the claim: an unsubscribe or a bounce that arrived
        # while the message waited in the queue still stops it.
        if not state.claim(session, delivery_id, email=email.recipient):
            refusal = _refusal(session, delivery_id)
            if refusal and state.mark_suppressed(session, delivery_id, refusal):
                return Outcome.SUPPRESSED
            return Outcome.NOT_CLAIMED
    # Committed: the row is ours and says `sending`. Now the one side effect.
    try:
        result = sender.send(email)
    except PermanentSendError as exc:
        reason = str(exc)
        _record(lambda s: state.mark_failed(s, delivery_id, reason))
        log.warning("delivery %s failed permanently: %s", delivery_id, exc)
        return Outcome.FAILED
    except UncertainSendError as exc:
        reason = str(exc)
        _record(lambda s: state.mark_uncertain(s, delivery_id, reason))
        log.error("delivery %s is uncertain: %s", delivery_id, exc)
        return Outcome.UNCERTAIN
    except AccountSendError as exc:
        reason = str(exc)
        _record(lambda s: state.release(s, delivery_id, reason))
        _trip(reason, quota=isinstance(exc, QuotaSendError))
        return Outcome.PAUSED
    except TransientSendError as exc:
        reason = str(exc)
        _record(lambda s: state.release(s, delivery_id, reason))
        limiter.slow_down()
        raise
    # Anything else raised after the claim propagates with the row left `sending`: we
    # cannot tell whether the provider took the message, so its lease decides.
    _record(lambda s: state.mark_sent(s, delivery_id, result.message_id))
    log.info(
        "delivery %s sent to %s message_id=%s",
        delivery_id,
        email.recipient,
        result.message_id,
    )
    return Outcome.SENT


def _refusal(session: Session, delivery_id: int) -> str | None:
    row = session.execute(
        select(Subscriber.status, Subscriber.email)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.id == delivery_id)
    ).one()
    status, address = row
    if status != SubscriberStatus.ACTIVE:
        return f"address is {status}"
    if is_suppressed(session, address):
        return "address is on the suppression list"
    return None


def _trip(reason: str, *, quota: bool) -> None:
    pause = timedelta(seconds=get_settings().quota_pause_seconds) if quota else None
    _record(lambda s: breaker.trip(s, reason, pause))


def _record(step: Callable[[Session], T], attempts: int = 5) -> T:
    """Write an outcome, retrying a dropped database connection a few times.

    The message already went out (or definitely did not): losing this write would turn
    a known outcome into `uncertain`, so it is worth a few seconds of retries.
    """
    delay = 0.2
    for attempt in range(attempts):
        try:
            with session_scope() as session:
                return step(session)
        except DBAPIError as exc:
            retryable = exc.connection_invalidated or _is_disconnect(exc)
            if attempt == attempts - 1 or not retryable:
                raise
            log.warning("database connection lost while recording an outcome; retrying")
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _is_disconnect(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig else ""
    return any(
        needle in text
        for needle in (
            "terminating connection",
            "server closed",
            "connection",
            "database is locked",
        )
    )


__all__ = [
    "Outcome",
    "RateLimitTimeout",
    "TransientSendError",
    "compose_chunk",
    "send_composed",
    "send_delivery",
]
