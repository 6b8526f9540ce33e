"""Who is due now: each subscriber's local send time, daily or weekly, per edition.

An edition is named by the subscriber's *local* date (or ISO week), so a reader in Tokyo
and one in Denver both get "daily-2026-11-26" at their own 07:00; the unique key on
Delivery makes a second plan of the same edition a no-op.

The rules a person would expect, whatever the clock or the beat does:
- a send time that has passed today is due until it is delivered (a missed tick, a
  DST jump over the hour, or an hour moved earlier mean late, never lost);
- a send time missed just before local midnight is still honoured for a few hours
  after it (`catchup_hours`), for yesterday's edition, but only for readers who were
  already subscribed then (a new reader does not get yesterday's digest too);
- the unique (edition, subscriber) key means never twice, whatever moves;
- daily digests pause on arXiv's quiet days (weekends, configured holidays) unless
  `send_on_quiet_days` is set: there is nothing new to announce.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.models import Delivery, Edition, Frequency, Subscriber, SubscriberStatus
from newsletter.timeutil import as_utc, moment_label, utcnow

SATURDAY, SUNDAY = 5, 6


@dataclass(frozen=True)
class LocalSlot:
    """The edition a timezone is in at a given instant, and the local hour there."""

    timezone: str
    local_date: date
    local_hour: int

    @property
    def daily_key(self) -> str:
        return daily_key(self.local_date)

    @property
    def weekly_key(self) -> str:
        return weekly_key(self.local_date)


def daily_key(day: date) -> str:
    return f"daily-{day.isoformat()}"


def weekly_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"weekly-{year}-W{week:02d}"


def local_slot(timezone: str, now: datetime) -> LocalSlot:
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    return LocalSlot(timezone, local.date(), local.hour)


def send_time(timezone: str, day: date, hour: int) -> datetime:
    """Return the UTC instant of `hour`:00 local on `day`.

    A wall time skipped by a DST jump (02:00 on a spring-forward night) resolves to the
    instant an hour later on the wall clock, so the reader still gets that day's digest.
    """
    local = datetime(day.year, day.month, day.day, hour, tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(UTC)


def is_quiet_day(day: date, holidays: Iterable[str] | None = None) -> bool:
    """Tell whether arXiv announces nothing on `day` (weekend or a configured holiday)."""
    if holidays is None:
        holidays = get_settings().arxiv.holidays
    return day.weekday() in (SATURDAY, SUNDAY) or day.isoformat() in set(holidays)


# Set by `quiet_days_included()`: the demo shows a digest whatever the weekday.
_include_quiet_days: ContextVar[bool] = ContextVar("include_quiet_days", default=False)


@contextmanager
def quiet_days_included() -> Iterator[None]:
    """Plan daily editions on quiet days too, within this block (this thread only)."""
    token = _include_quiet_days.set(True)
    try:
        yield
    finally:
        _include_quiet_days.reset(token)


def daily_edition_runs(day: date) -> bool:
    """Tell whether a daily edition goes out on `day` (quiet days only when configured)."""
    settings = get_settings()
    if settings.send.on_quiet_days or _include_quiet_days.get():
        return True
    return not is_quiet_day(day, settings.arxiv.holidays)


def edition_window(key: str) -> tuple[datetime, datetime]:
    """Return the nominal UTC window an edition covers (for display and candidate lookback)."""
    kind, _, rest = key.partition("-")
    if kind == Frequency.WEEKLY:
        year, week = rest.split("-W")
        start_day = date.fromisocalendar(int(year), int(week), 1)
        start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
        return start - timedelta(days=7), start + timedelta(days=7)
    day = date.fromisoformat(rest)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start - timedelta(days=1), start + timedelta(days=1)


@dataclass(frozen=True)
class DueSubscriber:
    subscriber_id: int
    edition_key: str


def _without_delivery(key: str) -> object:
    return ~exists().where(
        and_(
            Delivery.subscriber_id == Subscriber.id,
            Delivery.edition_id == Edition.id,
            Edition.key == key,
        )
    )


def due_subscribers(session: Session, now: datetime) -> list[DueSubscriber]:
    """List active subscribers whose send time has come and who lack a delivery for it.

    A handful of queries per distinct timezone (today's and yesterday's slots, daily and
    weekly), never one per person.
    """
    settings = get_settings()
    catchup = timedelta(hours=settings.catchup_hours)
    timezones = session.scalars(
        select(Subscriber.timezone).where(Subscriber.status == SubscriberStatus.ACTIVE).distinct()
    ).all()
    due: list[DueSubscriber] = []
    for tz in timezones:
        slot = local_slot(tz, now)
        today, yesterday = slot.local_date, slot.local_date - timedelta(days=1)
        base = select(Subscriber.id, Subscriber.send_hour).where(
            Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.timezone == tz
        )
        # Today's send times that have passed: due until delivered, however late.
        if daily_edition_runs(today):
            query = base.where(
                Subscriber.frequency == Frequency.DAILY,
                Subscriber.send_hour <= slot.local_hour,
                _without_delivery(daily_key(today)),  # type: ignore[arg-type]
            )
            due.extend(DueSubscriber(sid, daily_key(today)) for sid, _ in session.execute(query))
        query = base.where(
            Subscriber.frequency == Frequency.WEEKLY,
            Subscriber.weekday == today.weekday(),
            Subscriber.send_hour <= slot.local_hour,
            _without_delivery(weekly_key(today)),  # type: ignore[arg-type]
        )
        due.extend(DueSubscriber(sid, weekly_key(today)) for sid, _ in session.execute(query))
        # Yesterday's send times missed by at most `catchup` (across local midnight).
        hours = [
            h
            for h in range(slot.local_hour + 1, 24)
            if now - catchup <= send_time(tz, yesterday, h) <= now
        ]
        if not hours:
            continue
        late: list[tuple[int, int, str]] = []
        if daily_edition_runs(yesterday):
            query = base.where(
                Subscriber.frequency == Frequency.DAILY,
                Subscriber.send_hour.in_(hours),
                _without_delivery(daily_key(yesterday)),  # type: ignore[arg-type]
            )
            late.extend((sid, hour, daily_key(yesterday)) for sid, hour in session.execute(query))
        query = base.where(
            Subscriber.frequency == Frequency.WEEKLY,
            Subscriber.weekday == yesterday.weekday(),
            Subscriber.send_hour.in_(hours),
            _without_delivery(weekly_key(yesterday)),  # type: ignore[arg-type]
        )
        late.extend((sid, hour, weekly_key(yesterday)) for sid, hour in session.execute(query))
        if late:
            joined = _joined_at(session, [sid for sid, _, _ in late])
            for sid, hour, key in late:
                # Only readers who were subscribed when the slot passed missed it.
                if joined[sid] <= send_time(tz, yesterday, hour):
                    due.append(DueSubscriber(sid, key))
    return due


def _joined_at(session: Session, ids: list[int]) -> dict[int, datetime]:
    rows = session.execute(
        select(Subscriber.id, func.coalesce(Subscriber.confirmed_at, Subscriber.created_at)).where(
            Subscriber.id.in_(ids)
        )
    ).all()
    return {int(sid): as_utc(when) for sid, when in rows}


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
    """Return the next local send time after `now` (aware, in the subscriber's timezone).

    Daily digests skip arXiv's quiet days unless configured otherwise, so the label in
    the email and on the web page names the day the next digest really comes.
    """
    tz = zoneinfo.ZoneInfo(subscriber.timezone)
    local = now.astimezone(tz)
    day = local.date()
    for _ in range(400):
        candidate = datetime(day.year, day.month, day.day, subscriber.send_hour, tzinfo=tz)
        if candidate > local and _sends_on(subscriber, day):
            return candidate
        day += timedelta(days=1)
    raise ValueError("no send day found within a year")  # only with absurd holiday lists


def _sends_on(subscriber: Subscriber, day: date) -> bool:
    if subscriber.frequency == Frequency.WEEKLY:
        return day.weekday() == subscriber.weekday
    return daily_edition_runs(day)


def next_due_label(subscriber: Subscriber, now: datetime | None = None) -> str:
    """Say when the next digest is due, in the reader's own time."""
    when = next_send_time(subscriber, now or utcnow())
    return moment_label(when, subscriber.timezone)


__all__ = [
    "DueSubscriber",
    "LocalSlot",
    "count_active",
    "daily_edition_runs",
    "daily_key",
    "due_subscribers",
    "edition_window",
    "is_quiet_day",
    "local_slot",
    "next_due_label",
    "next_send_time",
    "quiet_days_included",
    "send_time",
    "weekly_key",
]
