"""Who is due now: each subscriber's local send time, daily or weekly, per edition.

An edition is named by the subscriber's *local* date (or ISO week), so a reader in Tokyo
and one in Denver both get "daily-2026-11-26" at their own 07:00; the unique key on
Delivery makes a second plan of the same edition a no-op.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from newsletter.models import Delivery, Edition, Frequency, Subscriber, SubscriberStatus
from newsletter.timeutil import utcnow


@dataclass(frozen=True)
class LocalSlot:
    """The edition a timezone is in at a given instant, and the local hour there."""

    timezone: str
    local_date: date
    local_hour: int

    @property
    def daily_key(self) -> str:
        return f"daily-{self.local_date.isoformat()}"

    @property
    def weekly_key(self) -> str:
        year, week, _ = self.local_date.isocalendar()
        return f"weekly-{year}-W{week:02d}"


def local_slot(timezone: str, now: datetime) -> LocalSlot:
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    return LocalSlot(timezone, local.date(), local.hour)


def edition_window(key: str) -> tuple[datetime, datetime]:
    """Return the nominal UTC window an edition covers (for display and candidate lookback)."""
    kind, _, rest = key.partition("-")
    if kind == Frequency.WEEKLY:
        year, week = rest.split("-W")
        start_day = date.fromisocalendar(int(year), int(week), 1)
        start = datetime(
            start_day.year, start_day.month, start_day.day, tzinfo=zoneinfo.ZoneInfo("UTC")
        )
        return start - timedelta(days=7), start + timedelta(days=7)
    day = date.fromisoformat(rest)
    start = datetime(day.year, day.month, day.day, tzinfo=zoneinfo.ZoneInfo("UTC"))
    return start - timedelta(days=1), start + timedelta(days=1)


@dataclass(frozen=True)
class DueSubscriber:
    subscriber_id: int
    edition_key: str


def due_subscribers(session: Session, now: datetime) -> list[DueSubscriber]:
    """List active subscribers whose send time has come and who lack a delivery for it.

    Grouped by timezone so the work is one query per distinct timezone, not per person.
    """
    timezones = session.scalars(
        select(Subscriber.timezone).where(Subscriber.status == SubscriberStatus.ACTIVE).distinct()
    ).all()
    due: list[DueSubscriber] = []
    for tz in timezones:
        slot = local_slot(tz, now)
        for frequency, key in (
            (Frequency.DAILY, slot.daily_key),
            (Frequency.WEEKLY, slot.weekly_key),
        ):
            already = exists().where(
                and_(
                    Delivery.subscriber_id == Subscriber.id,
                    Delivery.edition_id == Edition.id,
                    Edition.key == key,
                )
            )
            query = select(Subscriber.id).where(
                Subscriber.status == SubscriberStatus.ACTIVE,
                Subscriber.timezone == tz,
                Subscriber.frequency == frequency,
                Subscriber.send_hour <= slot.local_hour,
                ~already,
            )
            if frequency == Frequency.WEEKLY:
                query = query.where(Subscriber.weekday == slot.local_date.weekday())
            due.extend(DueSubscriber(sid, key) for sid in session.scalars(query))
    return due


def count_active(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Subscriber)
            .where(Subscriber.status == SubscriberStatus.ACTIVE)
        )
        or 0
    )


def next_send_time(subscriber: Subscriber, now: datetime) -> datetime:
    """Return the next local send time after `now` (aware, in the subscriber's timezone)."""
    tz = zoneinfo.ZoneInfo(subscriber.timezone)
    local = now.astimezone(tz)
    candidate = local.replace(hour=subscriber.send_hour, minute=0, second=0, microsecond=0)
    step = timedelta(days=1)
    while candidate <= local or (
        subscriber.frequency == Frequency.WEEKLY and candidate.weekday() != subscriber.weekday
    ):
        # Re-attach the wall time each day so DST shifts keep the same local hour.
        day = (candidate + step).date()
        candidate = datetime(day.year, day.month, day.day, subscriber.send_hour, tzinfo=tz)
    return candidate


def next_due_label(subscriber: Subscriber, now: datetime | None = None) -> str:
    """Say when the next digest is due, in the reader's own time."""
    when = next_send_time(subscriber, now or utcnow())
    return when.strftime("%A %d %B, %H:%M ") + subscriber.timezone
