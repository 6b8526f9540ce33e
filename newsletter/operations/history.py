"""Time series for the /admin charts: sends per minute, daily bounce and complaint rates.

Counted in the database, grouped into whole minutes or days of UTC since the epoch, so
a day of sends is one small query on either SQLite or PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, extract, func, select
from sqlalchemy.orm import Session

from newsletter.models import Delivery, DeliveryState, EmailEvent, MailState, TransactionalMail

MINUTES = 24 * 60
DAYS = 30


def _bucket(session: Session, column: Any, seconds: int) -> Any:
    """SQL for `column` as whole `seconds`-long steps since the Unix epoch."""
    if session.get_bind().dialect.name == "sqlite":
        epoch = cast(func.strftime("%s", column), Integer)
    else:
        epoch = cast(func.floor(extract("epoch", column)), Integer)
    return cast(func.floor(epoch / seconds), Integer)


def _counts(session: Session, column: Any, seconds: int, *where: Any) -> dict[int, int]:
    bucket = _bucket(session, column, seconds)
    rows = session.execute(select(bucket, func.count()).where(*where).group_by(bucket))
    return {int(b): int(n) for b, n in rows if b is not None}


def _step(now: datetime, seconds: int) -> int:
    return int(now.timestamp()) // seconds


def sends_per_minute(session: Session, now: datetime) -> list[int]:
    """Emails sent in each of the last 1440 minutes, oldest first (digests and others)."""
    since = now - timedelta(minutes=MINUTES)
    digests = _counts(
        session,
        Delivery.sent_at,
        60,
        Delivery.state == DeliveryState.SENT,
        Delivery.sent_at >= since,
    )
    others = _counts(
        session,
        TransactionalMail.sent_at,
        60,
        TransactionalMail.state == MailState.SENT,
        TransactionalMail.sent_at >= since,
    )
    last = _step(now, 60)
    minutes = range(last - MINUTES + 1, last + 1)
    return [digests.get(m, 0) + others.get(m, 0) for m in minutes]


@dataclass(frozen=True)
class DayRates:
    day: datetime
    sent: int
    bounces: int  # permanent bounces only: the ones SES's review rate counts
    complaints: int

    @property
    def bounce_rate(self) -> float | None:
        return self.bounces / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.sent if self.sent else None


def daily_rates(session: Session, now: datetime) -> list[DayRates]:
    """Sends, permanent bounces and complaints per UTC day over the last 30 days."""
    day = 86_400
    first = _step(now, day) - DAYS + 1
    since = datetime.fromtimestamp(first * day, UTC)
    sent = _counts(
        session,
        Delivery.sent_at,
        day,
        Delivery.state == DeliveryState.SENT,
        Delivery.sent_at >= since,
    )
    bounces = _counts(
        session,
        EmailEvent.received_at,
        day,
        EmailEvent.event_type == "bounce",
        EmailEvent.detail.like("Permanent%"),
        EmailEvent.received_at >= since,
    )
    complaints = _counts(
        session,
        EmailEvent.received_at,
        day,
        EmailEvent.event_type == "complaint",
        EmailEvent.received_at >= since,
    )
    return [
        DayRates(
            datetime.fromtimestamp(d * day, UTC),
            sent.get(d, 0),
            bounces.get(d, 0),
            complaints.get(d, 0),
        )
        for d in range(first, first + DAYS)
    ]
