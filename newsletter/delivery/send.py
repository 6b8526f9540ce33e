"""One delivery's state machine: the send is the last side effect.

Order: read and render (no side effects) -> breaker and rate limit (may wait) ->
suppression check and claim, one transaction (commit) -> provider call -> record the
outcome (commit). A crash after the provider accepted but before our commit leaves the
row in `sending`; its lease expiry makes it `uncertain`, never resent automatically.

The steps are separate functions because a chunk runs them for many deliveries at once
(newsletter.delivery.inflight): one claim statement for the messages the rate limiter
allows now, provider calls on pool threads, one transaction recording what came back.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    Sender,
    SendError,
    TransientSendError,
    UncertainSendError,
)
from newsletter.logging_setup import update_context
from newsletter.models import Delivery, DeliveryState, Subscriber
from newsletter.render.compose import compose_delivery

log = logging.getLogger(__name__)

T = TypeVar("T")


class Outcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    UNCERTAIN = "uncertain"
    NOT_CLAIMED = "not_claimed"
    PAUSED = "paused"
    RETRY = "retry"  # throttled or unreachable: released, the chunk is retried later


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


@dataclass
class Attempt:
    """What one provider call came to, and the row's new state to record for it.

    `error` is kept for the caller to act on: a transient error to raise (the task
    retries), an account error to trip the breaker with. `cpu` is the seconds of CPU
    the calling thread spent in the client (signing, serialising, parsing).
    """

    email: OutgoingEmail
    outcome: Outcome
    finish: state.Finish
    error: SendError | None = None
    cpu: float = 0.0
    seconds: float = 0.0  # the round trip, wall time


def attempt(sender: Sender, email: OutgoingEmail) -> Attempt:
    """Call the provider for one claimed delivery and classify the answer (thread-safe).

    Runs in a pool thread and touches no database: the caller records the outcome.
    Anything but a SendError propagates, and the row stays `sending` for its lease to
    decide: we cannot tell whether the provider took the message.
    """
    delivery_id = email.delivery_id
    # This pool thread's log lines name the delivery they are about.
    update_context(delivery_id=delivery_id, edition_id=email.tags.get("edition"))
    started, began = time.thread_time(), time.perf_counter()
    try:
        result = sender.send(email)
    except PermanentSendError as exc:
        log.warning("delivery %s failed permanently: %s", delivery_id, exc)
        return _attempt(email, Outcome.FAILED, DeliveryState.FAILED, exc, started, began)
    except UncertainSendError as exc:
        log.error("delivery %s is uncertain: %s", delivery_id, exc)
        return _attempt(email, Outcome.UNCERTAIN, DeliveryState.UNCERTAIN, exc, started, began)
    except (AccountSendError, TransientSendError) as exc:
        # Nothing went out: the row goes back to pending for a retry or a resume.
        outcome = Outcome.PAUSED if isinstance(exc, AccountSendError) else Outcome.RETRY
        return _attempt(email, outcome, DeliveryState.PENDING, exc, started, began)
    log.info(
        "delivery %s sent to %s message_id=%s", delivery_id, email.recipient, result.message_id
    )
    return Attempt(
        email,
        Outcome.SENT,
        state.Finish(delivery_id, DeliveryState.SENT, message_id=result.message_id),
        cpu=time.thread_time() - started,
        seconds=time.perf_counter() - began,
    )


def _attempt(
    email: OutgoingEmail,
    outcome: Outcome,
    new_state: DeliveryState,
    error: SendError,
    started: float,
    began: float,
) -> Attempt:
    return Attempt(
        email,
        outcome,
        state.Finish(email.delivery_id, new_state, error=str(error)),
        error,
        time.thread_time() - started,
        time.perf_counter() - began,
    )


def claim(emails: list[OutgoingEmail]) -> tuple[list[OutgoingEmail], dict[Outcome, int]] | None:
    """Claim these composed deliveries in one transaction; None while sending is paused.

    Returns the emails now ours to send, and how many of the others were suppressed
    (checked again right before the claim: an unsubscribe or a bounce that arrived
    while the message waited in the queue still stops it) or taken by someone else.
    """
    with session_scope() as session:
        if breaker.is_open(session):
            return None
        ids = [e.delivery_id for e in emails]
        claimed = set(state.claim_many(session, ids))
        passed = [i for i in ids if i not in claimed]
        refused = state.refusals(session, passed)
        if refused:
            state.finish_many(
                session,
                [state.Finish(i, DeliveryState.SUPPRESSED, error=r) for i, r in refused.items()],
            )
    others = {
        Outcome.SUPPRESSED: len(refused),
        Outcome.NOT_CLAIMED: len(passed) - len(refused),
    }
    return [e for e in emails if e.delivery_id in claimed], others


def record(attempts: list[Attempt]) -> None:
    """Record the outcomes of these provider calls in one transaction (retried)."""
    if attempts:
        _record(lambda s: state.finish_many(s, [a.finish for a in attempts]))


def trip(reason: str, *, quota: bool) -> None:
    """Open the breaker: account-level errors and an exhausted daily quota stop sending."""
    pause = timedelta(seconds=get_settings().quota_pause_seconds) if quota else None
    _record(lambda s: breaker.trip(s, reason, pause))


def _record(step: Callable[[Session], T], tries: int = 5) -> T:
    """Write an outcome, retrying a dropped database connection a few times.

    The message already went out (or definitely did not): losing this write would turn
    a known outcome into `uncertain`, so it is worth a few seconds of retries.
    """
    delay = 0.2
    for n in range(tries):
        try:
            with session_scope() as session:
                return step(session)
        except DBAPIError as exc:
            retryable = exc.connection_invalidated or _is_disconnect(exc)
            if n == tries - 1 or not retryable:
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


__all__ = ["Attempt", "Outcome", "attempt", "claim", "compose_chunk", "record", "trip"]
