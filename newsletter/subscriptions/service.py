"""Create and change subscribers; the web pages and the CLI both call these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.config import MAX_PAPERS
from newsletter.models import (
    EmailFormat,
    Frequency,
    Interest,
    InterestKind,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from newsletter.subscriptions.validation import (
    InvalidInput,
    check_category,
    check_description,
    check_hour,
    check_keyword,
    check_timezone,
    normalise_email,
)
from newsletter.timeutil import utcnow


class AlreadySubscribed(InvalidInput):
    """The address already has a subscription."""


@dataclass
class Preferences:
    """What a subscriber asked for, validated."""

    keywords: Sequence[str] = ()
    negative_keywords: Sequence[str] = ()
    categories: Sequence[str] = ()
    description: str = ""
    seed_papers: Sequence[str] = ()
    timezone: str = "UTC"
    send_hour: int = 7
    frequency: str = Frequency.DAILY
    weekday: int = 0
    max_papers: int = 10
    format: str = EmailFormat.HTML
    # Digest cards: tracked paper links, and the "Also trending" section (issue 12).
    click_tracking: bool = True
    also_trending: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validated(self) -> Preferences:
        if self.frequency not in set(Frequency):
            raise InvalidInput(f"invalid frequency {self.frequency!r}: use daily or weekly")
        if self.format not in set(EmailFormat):
            raise InvalidInput(f"invalid format {self.format!r}: use html or text")
        if not 0 <= self.weekday <= 6:
            raise InvalidInput("invalid weekday: use 0 (Monday) to 6 (Sunday)")
        if not 1 <= self.max_papers <= MAX_PAPERS:
            raise InvalidInput(f"invalid number of papers: use 1-{MAX_PAPERS}")
        return Preferences(
            keywords=_unique(check_keyword(k) for k in self.keywords),
            negative_keywords=_unique(check_keyword(k) for k in self.negative_keywords),
            categories=_unique(check_category(c) for c in self.categories),
            description=check_description(self.description),
            seed_papers=_unique(s.strip() for s in self.seed_papers if s.strip()),
            timezone=check_timezone(self.timezone),
            send_hour=check_hour(self.send_hour),
            frequency=self.frequency,
            weekday=self.weekday,
            max_papers=self.max_papers,
            format=self.format,
            click_tracking=bool(self.click_tracking),
            also_trending=bool(self.also_trending),
        )


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def add_subscriber(
    session: Session, email: str, preferences: Preferences, *, confirmed: bool = False
) -> Subscriber:
    """Create a subscriber; refuse a duplicate address with a clear error."""
    address = normalise_email(email)
    prefs = preferences.validated()
    if session.scalar(select(Subscriber.id).where(Subscriber.email == address)) is not None:
        raise AlreadySubscribed(f"{address} is already subscribed")
    subscriber = Subscriber(email=address, status=SubscriberStatus.PENDING, token_generation=0)
    if confirmed:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = utcnow()
    apply_preferences(subscriber, prefs)
    session.add(subscriber)
    try:
        session.flush()
    except IntegrityError:
        # Two signups raced; the database's unique index decided.
        session.rollback()
        raise AlreadySubscribed(f"{address} is already subscribed") from None
    return subscriber


def apply_preferences(subscriber: Subscriber, prefs: Preferences) -> None:
    """Replace the subscriber's schedule and interests with `prefs` (already validated)."""
    subscriber.timezone = prefs.timezone
    subscriber.send_hour = prefs.send_hour
    subscriber.frequency = prefs.frequency
    subscriber.weekday = prefs.weekday
    subscriber.max_papers = prefs.max_papers
    subscriber.format = prefs.format
    subscriber.click_tracking = prefs.click_tracking
    subscriber.also_trending = prefs.also_trending
    wanted = [
        *((InterestKind.KEYWORD, v) for v in prefs.keywords),
        *((InterestKind.NEGATIVE_KEYWORD, v) for v in prefs.negative_keywords),
        *((InterestKind.CATEGORY, v) for v in prefs.categories),
        *((InterestKind.SEED_PAPER, v) for v in prefs.seed_papers),
        *([(InterestKind.DESCRIPTION, prefs.description)] if prefs.description else []),
    ]
    current = {(i.kind, i.value): i for i in subscriber.interests}
    subscriber.interests = [
        current.get((str(kind), value)) or Interest(kind=str(kind), value=value)
        for kind, value in wanted
    ]


def preferences_of(subscriber: Subscriber) -> Preferences:
    """Read a subscriber's preferences back into the form the pages and ranking use."""
    by_kind: dict[str, list[str]] = {}
    for interest in subscriber.interests:
        by_kind.setdefault(interest.kind, []).append(interest.value)
    return Preferences(
        keywords=by_kind.get(InterestKind.KEYWORD, []),
        negative_keywords=by_kind.get(InterestKind.NEGATIVE_KEYWORD, []),
        categories=by_kind.get(InterestKind.CATEGORY, []),
        description=" ".join(by_kind.get(InterestKind.DESCRIPTION, [])),
        seed_papers=by_kind.get(InterestKind.SEED_PAPER, []),
        timezone=subscriber.timezone,
        send_hour=subscriber.send_hour,
        frequency=subscriber.frequency,
        weekday=subscriber.weekday,
        max_papers=subscriber.max_papers,
        format=subscriber.format,
        click_tracking=subscriber.click_tracking is not False,
        also_trending=subscriber.also_trending is not False,
    )


def unsubscribe(session: Session, subscriber: Subscriber) -> None:
    """Stop all mail to this subscriber and revoke every link issued so far."""
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = utcnow()
        subscriber.token_generation += 1
    suppress(session, subscriber.email, SuppressionReason.UNSUBSCRIBE)


def suppress(session: Session, email: str, reason: str, detail: str | None = None) -> None:
    """Record that `email` must never be mailed again (idempotent)."""
    existing = session.scalar(select(Suppression).where(Suppression.email == email))
    if existing is None:
        session.add(Suppression(email=email, reason=reason, detail=detail))
        session.flush()


def is_suppressed(session: Session, email: str) -> bool:
    return session.scalar(select(Suppression.id).where(Suppression.email == email)) is not None
