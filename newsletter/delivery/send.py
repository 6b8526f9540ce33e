"""Send one delivery through the state machine: the send is the last side effect.

Order: read and render (no side effects) -> suppression check -> claim (commit) ->
provider call -> record outcome (commit). A crash after the provider accepted but
before our commit leaves the row in `sending`; its lease expiry makes it `uncertain`.
"""

from __future__ import annotations

import enum
import logging

from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.delivery import state
from newsletter.delivery.base import (
    AccountSendError,
    PermanentSendError,
    Sender,
    TransientSendError,
)
from newsletter.models import Delivery, DeliveryState, Subscriber, SubscriberStatus
from newsletter.render.compose import compose_delivery
from newsletter.subscriptions.service import is_suppressed

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    NOT_CLAIMED = "not_claimed"


def send_delivery(delivery_id: int, sender: Sender) -> Outcome:
    """Send one delivery; raises TransientSendError / AccountSendError for the caller to retry."""
    with session_scope() as session:
        row = session.execute(
            select(Delivery, Subscriber)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.id == delivery_id)
        ).one_or_none()
        if row is None or row[0].state != DeliveryState.PENDING or row[0].papers is None:
            return Outcome.NOT_CLAIMED
        delivery, subscriber = row
        if subscriber.status != SubscriberStatus.ACTIVE or is_suppressed(session, subscriber.email):
            if state.claim(session, delivery_id):
                state.mark_suppressed(
                    session, delivery_id, f"address is {subscriber.status} or suppressed"
                )
                return Outcome.SUPPRESSED
            return Outcome.NOT_CLAIMED
        email = compose_delivery(session, delivery, subscriber)
        if not state.claim(session, delivery_id):
            return Outcome.NOT_CLAIMED
    # Committed: the row is ours and says `sending`. Now the one side effect.
    try:
        result = sender.send(email)
    except PermanentSendError as exc:
        with session_scope() as session:
            state.mark_failed(session, delivery_id, str(exc))
        log.warning("delivery %s failed permanently: %s", delivery_id, exc)
        return Outcome.FAILED
    except (TransientSendError, AccountSendError) as exc:
        with session_scope() as session:
            state.release(session, delivery_id, str(exc))
        raise
    with session_scope() as session:
        state.mark_sent(session, delivery_id, result.message_id)
    return Outcome.SENT
