"""Double opt-in: sign up, confirm, unsubscribe, each with the email that goes with it.

Each function commits its change first and sends its email after, so a failed send
never loses a signup and a rolled-back transaction never mails anyone. What a page may
say about an address is decided here, so the form cannot be used to probe who is
subscribed: every signup answers "check your inbox".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.db import session_scope
from newsletter.models import Subscriber, SubscriberStatus, Suppression, SuppressionReason
from newsletter.subscriptions.mail import send_address_confirmation, send_transactional
from newsletter.subscriptions.service import (
    AlreadySubscribed,
    Preferences,
    add_subscriber,
    apply_preferences,
)
from newsletter.subscriptions.service import unsubscribe as mark_unsubscribed
from newsletter.subscriptions.tokens import InvalidToken, current_subscriber, make_token, read_token
from newsletter.subscriptions.validation import InvalidInput, normalise_email
from newsletter.timeutil import as_utc, utcnow

# The signup form mails an address at most this often (confirm or welcome again).
RESEND_INTERVAL = timedelta(minutes=10)

# Addresses that asked us (or their provider told us) never to mail them again.
_BLOCKED_REASONS = (SuppressionReason.BOUNCE, SuppressionReason.COMPLAINT, SuppressionReason.MANUAL)


class SignupOutcome(enum.StrEnum):
    """What happened; pages show the same words for all but MAIL_FAILED."""

    CONFIRMATION_SENT = "confirmation_sent"  # new, pending again, or coming back
    WELCOME_RESENT = "welcome_resent"  # already active: their links, mailed again
    THROTTLED = "throttled"  # mailed moments ago; nothing sent now
    BLOCKED = "blocked"  # bounced, complained or suppressed: never mailed
    MAIL_FAILED = "mail_failed"  # saved, but the provider refused for now


@dataclass(frozen=True)
class SignupResult:
    outcome: SignupOutcome
    subscriber_id: int | None


def request_signup(
    email: str, preferences: Preferences, now: datetime | None = None
) -> SignupResult:
    """Record a signup (pending) and mail the confirmation link, or the right alternative."""
    now = now or utcnow()
    address = normalise_email(email)
    prefs = preferences.validated()
    with session_scope() as session:
        outcome, subscriber = _record_signup(session, address, prefs, now)
        to_send = _email_for(outcome)
        if to_send is not None:
            assert subscriber is not None
            if _recently_mailed(subscriber, now):
                outcome, to_send = SignupOutcome.THROTTLED, None
    if to_send is None:
        return SignupResult(outcome, subscriber.id if subscriber else None)
    assert subscriber is not None
    if send_transactional(to_send, subscriber) is None:
        return SignupResult(SignupOutcome.MAIL_FAILED, subscriber.id)
    with session_scope() as session:
        session.get_one(Subscriber, subscriber.id).last_signup_mail_at = now
    return SignupResult(outcome, subscriber.id)


def _record_signup(
    session: Session, address: str, prefs: Preferences, now: datetime
) -> tuple[SignupOutcome, Subscriber | None]:
    suppression = session.scalar(select(Suppression).where(Suppression.email == address))
    if suppression is not None and suppression.reason in _BLOCKED_REASONS:
        return SignupOutcome.BLOCKED, None
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        try:
            return SignupOutcome.CONFIRMATION_SENT, add_subscriber(session, address, prefs)
        except AlreadySubscribed:
            # A concurrent signup of the same address won the unique index.
            subscriber = session.scalars(
                select(Subscriber).where(Subscriber.email == address)
            ).one()
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return SignupOutcome.BLOCKED, None
    if subscriber.status == SubscriberStatus.ACTIVE:
        # Changing an active subscription needs their signed link; mail it to them.
        return SignupOutcome.WELCOME_RESENT, subscriber
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        # Coming back: opt in again from scratch. Unsubscribing already revoked old links.
        subscriber.status = SubscriberStatus.PENDING
        subscriber.confirmed_at = None
    # Pending (or pending again): the newest form wins; nothing is sent until confirmed.
    apply_preferences(subscriber, prefs)
    return SignupOutcome.CONFIRMATION_SENT, subscriber


def _email_for(outcome: SignupOutcome) -> str | None:
    return {
        SignupOutcome.CONFIRMATION_SENT: "confirm",
        SignupOutcome.WELCOME_RESENT: "welcome",
    }.get(outcome)


def _recently_mailed(subscriber: Subscriber, now: datetime) -> bool:
    last = subscriber.last_signup_mail_at
    return last is not None and now - as_utc(last) < RESEND_INTERVAL


# --- confirm ----------------------------------------------------------------------


class ConfirmOutcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_ACTIVE = "already_active"


@dataclass(frozen=True)
class ConfirmResult:
    outcome: ConfirmOutcome
    email: str
    subscriber_id: int
    welcome_sent: bool


def subscriber_for_token(session: Session, purpose: str, token: str) -> Subscriber:
    """Return the subscriber a link names, refusing forged, expired and revoked links."""
    return current_subscriber(session, read_token(purpose, token))


def check_confirm_token(token: str) -> tuple[str, bool]:
    """Verify a confirmation link without changing anything: (address, already active?)."""
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "confirm", token)
        _refuse_blocked(subscriber)
        return subscriber.email, subscriber.status == SubscriberStatus.ACTIVE


def confirm(token: str, now: datetime | None = None) -> ConfirmResult:
    """Activate the subscription a confirmation link names (idempotent) and welcome them."""
    now = now or utcnow()
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "confirm", token)
        _refuse_blocked(subscriber)
        if subscriber.status == SubscriberStatus.ACTIVE:
            return ConfirmResult(
                ConfirmOutcome.ALREADY_ACTIVE, subscriber.email, subscriber.id, False
            )
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = now
        subscriber.unsubscribed_at = None
        # They opted in again: an earlier unsubscribe no longer blocks mail. Bounce and
        # complaint suppressions are for good and were refused above.
        session.execute(
            delete(Suppression).where(
                Suppression.email == subscriber.email,
                Suppression.reason == SuppressionReason.UNSUBSCRIBE,
            )
        )
    sent = send_transactional("welcome", subscriber) is not None
    return ConfirmResult(ConfirmOutcome.CONFIRMED, subscriber.email, subscriber.id, sent)


def _refuse_blocked(subscriber: Subscriber) -> None:
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        raise InvalidToken(
            "We can't send email to this address: an earlier message bounced or was "
            "reported as spam."
        )
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        raise InvalidToken("This address unsubscribed. Sign up again to get a new link.")


# --- unsubscribe ------------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeResult:
    email: str
    changed: bool  # False if the address was already unsubscribed (or blocked)
    goodbye_sent: bool


def subscriber_for_unsubscribe(session: Session, token: str) -> Subscriber:
    """Return the subscriber an unsubscribe link names.

    Unlike other links, an unsubscribe link stays good after its generation was bumped:
    every old email's link must keep working (RFC 8058, bulk-sender rules), and the only
    thing it can do is stop mail.
    """
    data = read_token("unsubscribe", token)
    subscriber = session.get(Subscriber, data.subscriber_id)
    if subscriber is None:
        raise InvalidToken("This link is not valid any more.")
    return subscriber


def unsubscribe_by_token(token: str) -> UnsubscribeResult:
    """Unsubscribe the link's subscriber (idempotent) and send the goodbye email once."""
    with session_scope() as session:
        subscriber = subscriber_for_unsubscribe(session, token)
        if subscriber.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
            return UnsubscribeResult(subscriber.email, False, False)
        was_active = subscriber.status == SubscriberStatus.ACTIVE
        mark_unsubscribed(session, subscriber)
    # A pending address never confirmed it wanted mail: do not send it another.
    sent = was_active and send_transactional("goodbye", subscriber) is not None
    return UnsubscribeResult(subscriber.email, True, sent)


# --- change of address ------------------------------------------------------------


def request_email_change(
    preferences_token: str, new_email: str, now: datetime | None = None
) -> SignupOutcome:
    """Mail a confirmation link to a new address; the change happens only when it is used.

    The answer is the same whether or not the new address is free, so the form cannot
    be used to find out who else is subscribed.
    """
    now = now or utcnow()
    address = normalise_email(new_email)
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "preferences", preferences_token)
        if address == subscriber.email:
            raise InvalidInput("That is already the address your digest goes to.")
        if _address_unavailable(session, address):
            return SignupOutcome.BLOCKED
        if _recently_mailed(subscriber, now):
            return SignupOutcome.THROTTLED
        token = make_token("email", subscriber.id, subscriber.token_generation, address)
    if send_address_confirmation(subscriber, address, token) is None:
        return SignupOutcome.MAIL_FAILED
    with session_scope() as session:
        session.get_one(Subscriber, subscriber.id).last_signup_mail_at = now
    return SignupOutcome.CONFIRMATION_SENT


def _address_unavailable(session: Session, address: str) -> bool:
    taken = session.scalar(select(Subscriber.id).where(Subscriber.email == address))
    blocked = session.scalar(
        select(Suppression.id).where(
            Suppression.email == address, Suppression.reason.in_(_BLOCKED_REASONS)
        )
    )
    return taken is not None or blocked is not None


def check_email_change(token: str) -> tuple[str, str]:
    """Verify an address-change link without changing anything: (old, new address)."""
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "email", token)
        _refuse_blocked(subscriber)
        return subscriber.email, read_token("email", token).extra


def confirm_email_change(token: str) -> tuple[str, str]:
    """Move the subscription to the confirmed new address; return (address, preferences token).

    Every earlier link is revoked (the generation is bumped): they name the old address.
    """
    with session_scope() as session:
        subscriber = subscriber_for_token(session, "email", token)
        _refuse_blocked(subscriber)
        address = read_token("email", token).extra
        if _address_unavailable(session, address):
            raise InvalidToken("This address can't be used for a digest any more.")
        subscriber.email = address
        subscriber.token_generation += 1
        # Clicking the link is an opt-in for this address: an old unsubscribe no longer blocks.
        session.execute(
            delete(Suppression).where(
                Suppression.email == address,
                Suppression.reason == SuppressionReason.UNSUBSCRIBE,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            # Someone subscribed that address between our check and now.
            raise InvalidToken("This address can't be used for a digest any more.") from None
        return address, make_token("preferences", subscriber.id, subscriber.token_generation)
