"""Apply SES bounce, complaint and delivery events: suppress bad addresses for good.

SNS delivers at least once and out of order, so every event is stored under its SNS
MessageId (a unique key) and a repeat changes nothing. Both SES shapes are accepted:
identity notifications (`notificationType`) and configuration-set events (`eventType`).
Permanent bounces and complaints suppress the address and mark the subscriber. A
transient or undetermined bounce says nothing final about an address (SES retried it
already), but many in a row do: a subscriber's count goes up with each and back to zero
with each delivery event, and at NEWSLETTER_TRANSIENT_BOUNCE_LIMIT the address is
suppressed like a permanent bounce.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.models import (
    Delivery,
    EmailEvent,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from newsletter.subscriptions.inbound import redacted_payload

log = logging.getLogger(__name__)

# A stronger reason replaces a weaker one; complaint is the strongest (never mail again).
_STRENGTH: dict[str, int] = {
    SuppressionReason.UNSUBSCRIBE: 0,
    SuppressionReason.MANUAL: 1,
    SuppressionReason.BOUNCE: 2,
    SuppressionReason.COMPLAINT: 3,
}
_RECIPIENT_KEYS = {
    "bounce": ("bounce", "bouncedRecipients"),
    "complaint": ("complaint", "complainedRecipients"),
    "delivery": ("delivery", "recipients"),
    "deliverydelay": ("deliveryDelay", "delayedRecipients"),
}


class EventOutcome(enum.StrEnum):
    SUPPRESSED = "suppressed"  # permanent bounce or complaint: addresses blocked
    RECORDED = "recorded"  # stored only (delivery, transient bounce, other types)
    DUPLICATE = "duplicate"  # this SNS MessageId was seen before: nothing changed


@dataclass(frozen=True)
class SesEvent:
    """The parts of one SES event we act on."""

    event_type: str  # lower case: bounce, complaint, delivery, send, reject, ...
    message_id: str | None  # SES MessageId of the email (what send_email returned)
    recipients: list[str]
    permanent: bool  # a hard bounce or a complaint
    detail: str
    payload: dict[str, Any]


def parse_ses_event(message: str) -> SesEvent:
    """Parse the SNS `Message` string into an SesEvent; ValueError if it is not one."""
    try:
        payload = json.loads(message)
    except ValueError:
        raise ValueError("SNS Message is not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("SNS Message is not a JSON object")
    raw_type = payload.get("eventType") or payload.get("notificationType")
    if not isinstance(raw_type, str) or not raw_type:
        raise ValueError("SES event has neither eventType nor notificationType")
    event_type = raw_type.replace(" ", "").lower()
    mail = payload.get("mail")
    if not isinstance(mail, dict):
        mail = {}
    message_id = mail.get("messageId") if isinstance(mail.get("messageId"), str) else None
    recipients: list[str] = []
    section_name, list_name = _RECIPIENT_KEYS.get(event_type, ("", ""))
    section = payload.get(section_name) if section_name else None
    if isinstance(section, dict):
        for item in section.get(list_name) or []:
            address = item.get("emailAddress") if isinstance(item, dict) else item
            if isinstance(address, str) and address.strip():
                recipients.append(_normalise(address))
    permanent = False
    detail = ""
    if event_type == "bounce" and isinstance(section, dict):
        bounce_type = str(section.get("bounceType", ""))
        permanent = bounce_type == "Permanent"
        codes = [
            str(r.get("diagnosticCode") or r.get("status") or "")
            for r in section.get("bouncedRecipients") or []
            if isinstance(r, dict)
        ]
        detail = f"{bounce_type}/{section.get('bounceSubType', '')}"
        if any(codes):
            detail += ": " + "; ".join(c for c in codes if c)
    elif event_type == "complaint" and isinstance(section, dict):
        permanent = True
        detail = str(section.get("complaintFeedbackType") or "complaint")
    elif event_type == "delivery" and isinstance(section, dict):
        detail = str(section.get("smtpResponse") or "")
    if event_type == "received":
        # An email to us (SES receiving): keep its headers, not the raw message or token.
        payload = redacted_payload(payload)
    return SesEvent(event_type, message_id, recipients, permanent, detail[:2000], payload)


def _normalise(address: str) -> str:
    return parseaddr(address)[1].strip().lower() or address.strip().lower()


def record_ses_event(session: Session, notification_id: str, message: str) -> EventOutcome:
    """Store one SES event under its SNS MessageId and apply it (once, whatever the order)."""
    try:
        event = parse_ses_event(message)
    except ValueError as exc:
        # Signed by our topic but not an SES event we understand: keep it for a human.
        event = SesEvent("unparsed", None, [], False, str(exc), {"raw": message[:10000]})
    row = EmailEvent(
        notification_id=notification_id,
        provider_message_id=event.message_id,
        event_type=event.event_type[:32],
        recipient=", ".join(event.recipients)[:320] or None,
        detail=event.detail or None,
        payload=event.payload,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return EventOutcome.DUPLICATE
    delivery = None
    if event.message_id:
        delivery = session.scalar(
            select(Delivery).where(Delivery.provider_message_id == event.message_id).limit(1)
        )
        if delivery is not None:
            row.payload = {**event.payload, "_delivery_id": delivery.id}
    if event.event_type == "delivery":
        _set_transient_count(session, event.recipients, reset=True)
    if event.event_type == "bounce" and not event.permanent:
        repeated = _count_transient_bounce(session, event.recipients, event.detail)
        return EventOutcome.SUPPRESSED if repeated else EventOutcome.RECORDED
    if not event.permanent:
        return EventOutcome.RECORDED
    reason = (
        SuppressionReason.COMPLAINT if event.event_type == "complaint" else SuppressionReason.BOUNCE
    )
    addresses = list(event.recipients)
    if not addresses and delivery is not None:
        subscriber = session.get(Subscriber, delivery.subscriber_id)
        if subscriber is not None:
            addresses.append(subscriber.email)
    for address in addresses:
        suppress_for_good(session, address, reason, event.detail)
    log.info("suppressed %s after a %s", addresses, event.event_type)
    return EventOutcome.SUPPRESSED


def _set_transient_count(session: Session, addresses: list[str], *, reset: bool) -> None:
    if addresses:
        count = 0 if reset else Subscriber.transient_bounces + 1
        session.execute(
            update(Subscriber)
            .where(Subscriber.email.in_(addresses))
            .values(transient_bounces=count)
            .execution_options(synchronize_session=False)
        )


def _count_transient_bounce(session: Session, addresses: list[str], detail: str) -> list[str]:
    """Count one more transient bounce per subscriber; suppress those at the limit."""
    limit = get_settings().transient_bounce_limit
    if not limit or not addresses:
        return []
    _set_transient_count(session, addresses, reset=False)
    over = session.scalars(
        select(Subscriber.email).where(
            Subscriber.email.in_(addresses), Subscriber.transient_bounces >= limit
        )
    ).all()
    for address in over:
        suppress_for_good(
            session,
            address,
            SuppressionReason.BOUNCE,
            f"{limit} transient bounces in a row: {detail}",
        )
    if over:
        log.info("suppressed %s after %d transient bounces in a row", list(over), limit)
    return list(over)


def suppress_for_good(session: Session, email: str, reason: str, detail: str | None) -> None:
    """Block `email` for `reason`, upgrading a weaker earlier reason, and mark its subscriber."""
    existing = session.scalar(select(Suppression).where(Suppression.email == email))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(Suppression(email=email, reason=reason, detail=detail))
        except IntegrityError:
            existing = session.scalars(select(Suppression).where(Suppression.email == email)).one()
    # StrEnum members hash like their strings, so plain column values look up fine.
    if existing is not None and _STRENGTH.get(reason, 0) > _STRENGTH.get(existing.reason, 0):
        existing.reason = reason
        existing.detail = detail
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is not None and subscriber.status != SubscriberStatus.COMPLAINED:
        subscriber.status = (
            SubscriberStatus.COMPLAINED
            if reason == SuppressionReason.COMPLAINT
            else SubscriberStatus.BOUNCED
        )
    session.flush()
