"""Double opt-in: sign up, confirm, unsubscribe, each with the email that goes with it.

Each function commits its change first and sends its email after, so a failed send
never loses a signup and a rolled-back transaction never mails anyone. What a page may
say about an address is decided here, so the form cannot be used to probe who is
subscribed: every signup answers "check your inbox".
"""

from __future__ import annotations

import enum
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.db import session_scope
from newsletter.models import (
    SignupRequest,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from newsletter.subscriptions.claims import (
    claim_address_change,
    claim_confirmation,
    claim_mail_slot,
    claim_unsubscribe,
    release_mail_slot,
)
from newsletter.subscriptions.mail import queue_mail
from newsletter.subscriptions.service import (
    AlreadySubscribed,
    Preferences,
    add_subscriber,
    apply_preferences,
    suppress,
)
from newsletter.subscriptions.tokens import (
    MAX_AGE,
    InvalidToken,
    TokenData,
    current_subscriber,
    make_token,
    read_token,
)
from newsletter.subscriptions.validation import InvalidInput, normalise_email
from newsletter.timeutil import utcnow

log = logging.getLogger(__name__)

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
        outcome, subscriber = _record_signup(session, address, prefs)
    to_send = _email_for(outcome)
    if to_send is None or subscriber is None:
        return SignupResult(outcome, subscriber.id if subscriber else None)
    request_id = None
    with session_scope() as session:
        # Racing signups of one address all get here; one UPDATE takes the slot.
        if not claim_mail_slot(session, subscriber.id, now):
            return SignupResult(SignupOutcome.THROTTLED, subscriber.id)
        if to_send == "confirm":
            request_id = _store_request(session, subscriber.id, prefs, now)
    if not queue_mail(to_send, subscriber.id, signup_request=request_id):
        with session_scope() as session:
            release_mail_slot(session, subscriber.id, now)
        return SignupResult(SignupOutcome.MAIL_FAILED, subscriber.id)
    return SignupResult(outcome, subscriber.id)


def _store_request(session: Session, subscriber_id: int, prefs: Preferences, now: datetime) -> int:
    """Keep this form's choices for its confirmation link; forget requests past their link."""
    expiry = MAX_AGE["confirm"]
    assert expiry is not None
    session.execute(
        delete(SignupRequest).where(SignupRequest.created_at < now - timedelta(seconds=expiry))
    )
    request = SignupRequest(subscriber_id=subscriber_id, preferences=asdict(prefs), created_at=now)
    session.add(request)
    session.flush()
    return request.id


def _record_signup(
    session: Session, address: str, prefs: Preferences
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
    # Pending, or unsubscribed and coming back: nothing changes until the person at the
    # address uses the link; anyone can type any address here. The form's choices wait
    # in a SignupRequest that only that link applies.
    return SignupOutcome.CONFIRMATION_SENT, subscriber


def _email_for(outcome: SignupOutcome) -> str | None:
    return {
        SignupOutcome.CONFIRMATION_SENT: "confirm",
        SignupOutcome.WELCOME_RESENT: "welcome",
    }.get(outcome)


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
    data = read_token("confirm", token)
    with session_scope() as session:
        subscriber = current_subscriber(session, data)
        _refuse_blocked(subscriber, returning=bool(data.extra))
        if subscriber.status != SubscriberStatus.ACTIVE:
            try:
                _signup_request(session, subscriber, data)
            except InvalidToken:
                # A confirmation at this very moment deletes the requests: say so.
                session.refresh(subscriber)
                if subscriber.status != SubscriberStatus.ACTIVE:
                    raise
        return subscriber.email, subscriber.status == SubscriberStatus.ACTIVE


def confirm(token: str, now: datetime | None = None) -> ConfirmResult:
    """Activate the subscription a confirmation link names (idempotent) and welcome them.

    The choices made on the form that sent this link are applied now, not at signup.
    Of several simultaneous confirmations only one activates and sends the welcome.
    """
    now = now or utcnow()
    data = read_token("confirm", token)
    with session_scope() as session:
        subscriber = current_subscriber(session, data)
        _refuse_blocked(subscriber, returning=bool(data.extra))
        if subscriber.status == SubscriberStatus.ACTIVE:
            return ConfirmResult(
                ConfirmOutcome.ALREADY_ACTIVE, subscriber.email, subscriber.id, False
            )
        if not claim_confirmation(session, subscriber.id, data.generation, now):
            return ConfirmResult(
                ConfirmOutcome.ALREADY_ACTIVE, subscriber.email, subscriber.id, False
            )
        # After the claim: the request is read by the one confirmation that won (a
        # missing one rolls the claim back with the error).
        request = _signup_request(session, subscriber, data)
        session.refresh(subscriber)
        if request is not None:
            _apply_request(subscriber, request)
        session.execute(delete(SignupRequest).where(SignupRequest.subscriber_id == subscriber.id))
        # They opted in again: an earlier unsubscribe no longer blocks mail. Bounce and
        # complaint suppressions are for good and were refused above.
        session.execute(
            delete(Suppression).where(
                Suppression.email == subscriber.email,
                Suppression.reason == SuppressionReason.UNSUBSCRIBE,
            )
        )
    sent = queue_mail("welcome", subscriber.id)
    return ConfirmResult(ConfirmOutcome.CONFIRMED, subscriber.email, subscriber.id, sent)


def _signup_request(
    session: Session, subscriber: Subscriber, data: TokenData
) -> SignupRequest | None:
    """Return the signup a confirmation link belongs to (None for links from before them)."""
    if not data.extra:
        return None
    known = data.extra.isdigit() and len(data.extra) < 10
    request = session.get(SignupRequest, int(data.extra)) if known else None
    if request is None or request.subscriber_id != subscriber.id:
        raise InvalidToken("This link is not valid any more. Sign up again to get a new one.")
    return request


def _apply_request(subscriber: Subscriber, request: SignupRequest) -> None:
    """Apply a stored form; one that no longer validates (rules changed) leaves the row."""
    try:
        apply_preferences(subscriber, Preferences(**request.preferences).validated())
    except (InvalidInput, TypeError) as exc:
        log.warning("signup request %s no longer applies, kept the signup's: %s", request.id, exc)


def _refuse_blocked(subscriber: Subscriber, *, returning: bool = False) -> None:
    """Refuse links of stopped addresses; `returning`: a signup link may revive an unsubscribe."""
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        raise InvalidToken(
            "We can't send email to this address: an earlier message bounced or was "
            "reported as spam."
        )
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED and not returning:
        raise InvalidToken("This address unsubscribed. Sign up again to get a new link.")


# --- unsubscribe ------------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeResult:
    # The address, only for a link of the current generation: an old link must not tell
    # its holder where the digest goes now (after a change of address, say).
    email: str | None
    changed: bool  # False if the address was already unsubscribed (or blocked)
    goodbye_sent: bool


def subscriber_for_unsubscribe(session: Session, token: str) -> tuple[Subscriber, bool]:
    """Return the subscriber an unsubscribe link names and whether the link is current.

    Unlike other links, an unsubscribe link stays good after its generation was bumped:
    every old email's link must keep working (RFC 8058, bulk-sender rules). But an old
    link may only stop mail: its holder must not learn the address or reach any page
    that changes something else, so callers show those only when it is current.
    """
    data = read_token("unsubscribe", token)
    subscriber = session.get(Subscriber, data.subscriber_id)
    if subscriber is None:
        raise InvalidToken("This link is not valid any more.")
    return subscriber, data.generation == subscriber.token_generation


def unsubscribe_by_token(token: str, now: datetime | None = None) -> UnsubscribeResult:
    """Unsubscribe the link's subscriber (idempotent) and send the goodbye email once.

    Of several simultaneous requests (a one-click POST and a scanner, say) only the one
    whose conditional update changed the row sends the goodbye.
    """
    now = now or utcnow()
    with session_scope() as session:
        subscriber, current = subscriber_for_unsubscribe(session, token)
        shown = subscriber.email if current else None
        previous = claim_unsubscribe(session, subscriber.id, now)
        if previous is None:
            return UnsubscribeResult(shown, False, False)
        suppress(session, subscriber.email, SuppressionReason.UNSUBSCRIBE)
    # A pending address never confirmed it wanted mail: do not send it another.
    sent = previous == SubscriberStatus.ACTIVE
    sent = sent and queue_mail("goodbye", subscriber.id)
    return UnsubscribeResult(shown, True, sent)


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
        # The slot is taken before looking at the address, taken or free: otherwise a
        # taken address would answer differently (never throttled) and so reveal itself.
        if not claim_mail_slot(session, subscriber.id, now):
            return SignupOutcome.THROTTLED
        unavailable = _address_unavailable(session, address)
    if unavailable:
        return SignupOutcome.BLOCKED
    if not queue_mail("change-email", subscriber.id, address=address):
        with session_scope() as session:
            release_mail_slot(session, subscriber.id, now)
        return SignupOutcome.MAIL_FAILED
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
    data = read_token("email", token)
    with session_scope() as session:
        subscriber = current_subscriber(session, data)
        _refuse_blocked(subscriber)
        address = data.extra
        if _address_unavailable(session, address):
            raise InvalidToken("This address can't be used for a digest any more.")
        try:
            # Conditional on the generation: of two clicks at once, one moves the address.
            moved = claim_address_change(session, subscriber.id, data.generation, address)
        except IntegrityError:
            # Someone subscribed that address between our check and now.
            raise InvalidToken("This address can't be used for a digest any more.") from None
        if not moved:
            raise InvalidToken("This link was already used. Your digest goes to the new address.")
        # Clicking the link is an opt-in for this address: an old unsubscribe no longer blocks.
        session.execute(
            delete(Suppression).where(
                Suppression.email == address,
                Suppression.reason == SuppressionReason.UNSUBSCRIBE,
            )
        )
        return address, make_token("preferences", subscriber.id, data.generation + 1)
