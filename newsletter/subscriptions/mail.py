"""Transactional email: confirmation, welcome, goodbye and change-of-address messages.

A page never sends mail itself. Once its change has committed it calls `queue_mail`,
which records one TransactionalMail row and queues the `send_transactional` task on the
`transactional` queue (its own workers: a digest run never delays a confirmation).
The task sends through the same sender, shared rate limiter and sending pause as the
digests, and claims the row with a conditional update first, so running it twice mails
once. On the embedded default (no broker) it runs in-process, inside the request.

These are not Deliveries (no edition): `delivery_id` is 0 and the `kind` tag tells them
apart in SES events.
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import breaker
from newsletter.delivery.backends import process_limiter, process_sender
from newsletter.delivery.base import (
    AccountSendError,
    OutgoingEmail,
    PermanentSendError,
    QuotaSendError,
    TransientSendError,
    UncertainSendError,
)
from newsletter.delivery.ratelimit import QuotaExhausted, RateLimitTimeout
from newsletter.models import (
    EmailFormat,
    MailState,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
    TransactionalMail,
)
from newsletter.queues import broker
from newsletter.render.mime import build_message
from newsletter.render.transactional import render_transactional
from newsletter.schedule import next_due_label
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

# "change-email" is the confirm email, sent to the new address of a change of address.
# "links" mails a reader their preferences link again (an operator's action on /admin).
KINDS = ("confirm", "welcome", "goodbye", "change-email", "links")
# How long a send waits for the shared rate limiter before the task retries later.
LIMITER_WAIT = 30.0
# An email that could not go out for this long (sending paused) is dropped.
GIVE_UP_AFTER = timedelta(hours=24)
_BLOCKED_REASONS = (SuppressionReason.BOUNCE, SuppressionReason.COMPLAINT, SuppressionReason.MANUAL)


class MailOutcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # the address is blocked now
    UNCERTAIN = "uncertain"
    NOT_CLAIMED = "not_claimed"  # another run has (or had) it
    PAUSED = "paused"  # sending is paused: the row waits, pending
    RETRY = "retry"  # throttled or the provider said "later": the row waits, pending


def confirm_url(subscriber: Subscriber, signup_request: int | None = None) -> str:
    """Link to confirm a signup; it applies the choices of `signup_request` when used."""
    extra = "" if signup_request is None else str(signup_request)
    token = make_token("confirm", subscriber.id, subscriber.token_generation, extra)
    return f"{get_settings().base_url}/confirm/{token}"


def context_for(
    name: str, subscriber: Subscriber, signup_request: int | None = None
) -> dict[str, Any]:
    """Build the template context each transactional email documents."""
    base = get_settings().base_url
    links = links_for(subscriber.id, subscriber.token_generation)
    if name == "confirm":
        return {"email": subscriber.email, "confirm_url": confirm_url(subscriber, signup_request)}
    if name in ("welcome", "links"):
        return {
            "email": subscriber.email,
            "preferences_url": links.preferences,
            "unsubscribe_url": links.unsubscribe,
            "next_due": next_due_label(subscriber),
        }
    if name == "goodbye":
        return {"email": subscriber.email, "resubscribe_url": f"{base}/"}
    raise ValueError(f"unknown email {name!r}")


# --- queueing (the web request) -----------------------------------------------------


def queue_mail(
    kind: str,
    subscriber_id: int,
    *,
    address: str | None = None,
    signup_request: int | None = None,
) -> bool:
    """Record one email and queue its task; False if it is known to have failed.

    Call it after the transaction that made the email necessary has committed. With
    workers the answer is True once the task is queued; in-process it is the send's.
    `address` is the recipient when it is not the subscriber's (a change of address);
    a confirm email's link applies the choices of `signup_request`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown email {kind!r}")
    with session_scope() as session:
        subscriber = session.get_one(Subscriber, subscriber_id)
        mail = TransactionalMail(
            kind=kind,
            subscriber_id=subscriber_id,
            recipient=address or subscriber.email,
            signup_request_id=signup_request,
        )
        session.add(mail)
        session.flush()
        mail_id = mail.id
    return dispatch_mail(mail_id, kind)


def dispatch_mail(mail_id: int, kind: str) -> bool:
    """Queue the task of one recorded (committed) email; in-process, send it now.

    False if it is known to have failed. Rows recorded by a bulk import come here too;
    a row whose task message is lost is queued again by the sweep (mail_sweep).
    """
    if get_settings().embedded:
        send_transactional(mail_id, will_retry=False)
        with session_scope() as session:
            return session.get_one(TransactionalMail, mail_id).state != MailState.FAILED
    try:
        broker().enqueue("send_transactional", mail_id)
    except Exception as exc:  # the broker is down: kombu and redis raise several types
        log.error("could not queue the %s email %s: %s", kind, mail_id, exc)
        _finish(mail_id, MailState.FAILED, error=f"could not queue: {exc}", expected=None)
        return False
    return True


# --- sending (the task) -----------------------------------------------------------


def send_transactional(mail_id: int, *, will_retry: bool = True) -> MailOutcome:
    """Send one queued email at most once, honouring the sending pause and the rate limit.

    PAUSED and RETRY leave the row pending for the task to try again later; when no
    retry will come (`will_retry` False, in-process) the row is marked failed instead,
    so the page can say the email did not go out.
    """
    with session_scope() as session:
        mail = session.get(TransactionalMail, mail_id)
        if mail is None or mail.state != MailState.PENDING:
            return MailOutcome.NOT_CLAIMED
        if utcnow() - as_utc(mail.created_at) > GIVE_UP_AFTER:
            # Waited a day (sending paused): the person has asked again or given up.
            mail.state, mail.last_error = MailState.FAILED, "too old to send"
            return MailOutcome.FAILED
        paused = breaker.is_open(session)
    if paused:
        return _not_now(mail_id, MailOutcome.PAUSED, "sending is paused", will_retry)
    limiter = process_limiter()
    try:
        limiter.acquire(timeout=LIMITER_WAIT)
    except QuotaExhausted as exc:
        _pause(str(exc), quota=True)
        return _not_now(mail_id, MailOutcome.PAUSED, str(exc), will_retry)
    except RateLimitTimeout as exc:
        return _not_now(mail_id, MailOutcome.RETRY, str(exc), will_retry)
    email = _claim_and_compose(mail_id)
    if isinstance(email, MailOutcome):
        return email
    # Claimed and committed: the row says `sending`. Now the one side effect.
    try:
        result = process_sender().send(email)
    except PermanentSendError as exc:
        _finish(mail_id, MailState.FAILED, error=str(exc))
        log.warning("transactional email %s failed: %s", mail_id, exc)
        return MailOutcome.FAILED
    except UncertainSendError as exc:
        _finish(mail_id, MailState.UNCERTAIN, error=str(exc))
        log.error("transactional email %s is uncertain: %s", mail_id, exc)
        return MailOutcome.UNCERTAIN
    except AccountSendError as exc:
        _release(mail_id, str(exc), will_retry)
        _pause(str(exc), quota=isinstance(exc, QuotaSendError))
        return MailOutcome.PAUSED
    except TransientSendError as exc:
        limiter.slow_down()
        _release(mail_id, str(exc), will_retry)
        log.warning("transactional email %s: %s", mail_id, exc)
        return MailOutcome.RETRY
    _finish(mail_id, MailState.SENT, message_id=result.message_id)
    return MailOutcome.SENT


def _claim_and_compose(mail_id: int) -> OutgoingEmail | MailOutcome:
    """Claim the row (pending -> sending) and build its message, in one transaction."""
    now = utcnow()
    with session_scope() as session:
        result = session.execute(
            update(TransactionalMail)
            .where(TransactionalMail.id == mail_id, TransactionalMail.state == MailState.PENDING)
            .values(
                state=MailState.SENDING,
                attempts=TransactionalMail.attempts + 1,
                updated_at=now,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return MailOutcome.NOT_CLAIMED
        mail = session.get_one(TransactionalMail, mail_id)
        subscriber = session.get_one(Subscriber, mail.subscriber_id)
        if _blocked(session, mail.recipient, subscriber):
            # A bounce or complaint arrived while the email waited in the queue.
            mail.state = MailState.SKIPPED
            return MailOutcome.SKIPPED
        return _compose(mail, subscriber)


def _compose(mail: TransactionalMail, subscriber: Subscriber) -> OutgoingEmail:
    if mail.kind == "change-email":
        # The confirm email says what is needed ("someone asked to send digests to this
        # address; confirm here"), so it serves for a new address too.
        token = make_token("email", subscriber.id, subscriber.token_generation, mail.recipient)
        url = f"{get_settings().base_url}/change-email/{token}"
        rendered = render_transactional("confirm", {"email": mail.recipient, "confirm_url": url})
    else:
        context = context_for(mail.kind, subscriber, mail.signup_request_id)
        rendered = render_transactional(mail.kind, context)
    html = subscriber.format != EmailFormat.TEXT
    links = links_for(subscriber.id, subscriber.token_generation)
    message = build_message(rendered, mail.recipient, links, html=html)
    if mail.kind == "change-email":
        # No List-Unsubscribe: that link would be the subscriber's own, and whoever
        # reads the new inbox has not proved anything yet.
        del message["List-Unsubscribe"]
        del message["List-Unsubscribe-Post"]
    return OutgoingEmail(
        delivery_id=0,
        recipient=mail.recipient,
        raw=message.as_bytes(),
        html=rendered.html if html else None,
        tags={"kind": mail.kind},
    )


def _blocked(session: Session, address: str, subscriber: Subscriber) -> bool:
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return True
    reason = session.scalar(select(Suppression.reason).where(Suppression.email == address))
    return reason in _BLOCKED_REASONS


def _not_now(mail_id: int, outcome: MailOutcome, reason: str, will_retry: bool) -> MailOutcome:
    """The email cannot go out now: it waits for the retry, or fails if none will come."""
    if not will_retry:
        _finish(mail_id, MailState.FAILED, error=reason, expected=MailState.PENDING)
    return outcome


def _release(mail_id: int, reason: str, will_retry: bool) -> None:
    state = MailState.PENDING if will_retry else MailState.FAILED
    _finish(mail_id, state, error=reason)


def _finish(
    mail_id: int,
    state: MailState,
    *,
    error: str | None = None,
    message_id: str | None = None,
    expected: MailState | None = MailState.SENDING,
) -> None:
    """Record where a claimed (or, with `expected` None, any) email now stands."""
    values: dict[str, Any] = {"state": state, "updated_at": utcnow()}
    if error is not None:
        values["last_error"] = error[:2000]
    if message_id is not None:
        values["provider_message_id"] = message_id
        values["sent_at"] = utcnow()
    statement = update(TransactionalMail).where(TransactionalMail.id == mail_id)
    if expected is not None:
        statement = statement.where(TransactionalMail.state == expected)
    with session_scope() as session:
        session.execute(statement.values(**values))


def _pause(reason: str, *, quota: bool) -> None:
    pause = timedelta(seconds=get_settings().quota_pause_seconds) if quota else None
    with session_scope() as session:
        breaker.trip(session, reason, pause)
