"""Who is due when: local hours, DST, moved hours, missed ticks, quiet days."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.editions import get_or_open_edition, plan_deliveries
from newsletter.models import Delivery, Edition, Paper, Subscriber, SubscriberStatus
from newsletter.schedule import next_due_label, next_send_time

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def reader(
    session,
    email: str,
    tz: str,
    hour: int,
    *,
    frequency: str = "daily",
    weekday: int = 0,
    joined: datetime = LONG_AGO,
) -> Subscriber:
    subscriber = Subscriber(
        email=email,
        status=SubscriberStatus.ACTIVE,
        timezone=tz,
        send_hour=hour,
        frequency=frequency,
        weekday=weekday,
        created_at=joined,
        confirmed_at=joined,
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def tick(now: datetime) -> list[tuple[str, str]]:
    """Run one planner tick at `now`; return (email, edition key) of the rows it made."""
    with session_scope() as session:
        ids = plan_deliveries(session, now)
        rows = session.execute(
            select(Subscriber.email, Edition.key)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(Delivery.id.in_(ids))
        ).all()
    return sorted((email, key) for email, key in rows)


def every_five_minutes(start: datetime, hours: float, step: int = 5):
    now = start
    while now < start + timedelta(hours=hours):
        yield now
        now += timedelta(minutes=step)


@pytest.fixture
def quiet_days_on(monkeypatch):
    monkeypatch.setenv("NEWSLETTER_SEND_ON_QUIET_DAYS", "true")
    get_settings.cache_clear()


def test_each_reader_is_planned_once_at_their_own_local_hour(sqlite_url):
    zones = {"tokyo": "Asia/Tokyo", "berlin": "Europe/Berlin", "denver": "America/Denver"}
    with session_scope() as session:
        for name, tz in zones.items():
            reader(session, f"{name}@example.org", tz, 7)
    planned_at: dict[tuple[str, str], datetime] = {}
    counts: Counter[tuple[str, str]] = Counter()
    # Wednesday 25th to Friday 27th November 2026, a tick every five minutes.
    for now in every_five_minutes(datetime(2026, 11, 25, 12, tzinfo=UTC), 36):
        for item in tick(now):
            counts[item] += 1
            planned_at[item] = now
    assert set(counts.values()) == {1}
    assert planned_at[("tokyo@example.org", "daily-2026-11-26")] == datetime(
        2026, 11, 25, 22, tzinfo=UTC
    )
    assert planned_at[("berlin@example.org", "daily-2026-11-26")] == datetime(
        2026, 11, 26, 6, tzinfo=UTC
    )
    assert planned_at[("denver@example.org", "daily-2026-11-26")] == datetime(
        2026, 11, 26, 14, tzinfo=UTC
    )


def test_an_edition_freezes_its_candidates_so_later_timezones_get_the_same(sqlite_url):
    with session_scope() as session:
        reader(session, "tokyo@example.org", "Asia/Tokyo", 7)
        reader(session, "denver@example.org", "America/Denver", 7)
        session.add(Paper(arxiv_id="2611.00001", title="early", first_seen_at=LONG_AGO))
        session.add(
            Paper(
                arxiv_id="2611.00002",
                title="before tokyo",
                first_seen_at=datetime(2026, 11, 25, 20, tzinfo=UTC),
            )
        )
    tick(datetime(2026, 11, 25, 22, 1, tzinfo=UTC))
    with session_scope() as session:
        session.add(
            Paper(
                arxiv_id="2611.00003",
                title="after tokyo",
                first_seen_at=datetime(2026, 11, 26, 5, tzinfo=UTC),
            )
        )
    assert tick(datetime(2026, 11, 26, 14, 1, tzinfo=UTC)) == [
        ("denver@example.org", "daily-2026-11-26")
    ]
    with session_scope() as session:
        edition = session.scalars(select(Edition).where(Edition.key == "daily-2026-11-26")).one()
        assert edition.candidate_ids == ["2611.00002"]
        assert get_or_open_edition(session, "daily-2026-11-26").candidate_ids == ["2611.00002"]


def test_a_spring_forward_that_skips_the_send_hour_still_delivers_that_day(
    sqlite_url, quiet_days_on
):
    # 8 March 2026: New York clocks jump from 02:00 to 03:00 (07:00 UTC).
    with session_scope() as session:
        reader(session, "ny@example.org", "America/New_York", 2)
    tick(datetime(2026, 3, 7, 12, tzinfo=UTC))  # the day before, already served
    made = []
    for now in every_five_minutes(datetime(2026, 3, 8, 4, tzinfo=UTC), 6):
        made += [(now, item) for item in tick(now)]
    assert made == [(datetime(2026, 3, 8, 7, tzinfo=UTC), ("ny@example.org", "daily-2026-03-08"))]


def test_a_fall_back_that_repeats_the_send_hour_delivers_once(sqlite_url, quiet_days_on):
    # 1 November 2026: New York's 01:00-02:00 happens twice (05:00 and 06:00 UTC).
    with session_scope() as session:
        reader(session, "ny@example.org", "America/New_York", 1)
    tick(datetime(2026, 10, 31, 12, tzinfo=UTC))  # the day before, already served
    made = []
    for now in every_five_minutes(datetime(2026, 11, 1, 3, tzinfo=UTC), 6):
        made += [(now, item) for item in tick(now)]
    assert made == [(datetime(2026, 11, 1, 5, tzinfo=UTC), ("ny@example.org", "daily-2026-11-01"))]


def test_moving_the_hour_earlier_past_now_sends_at_once_and_never_twice(sqlite_url):
    with session_scope() as session:
        reader(session, "late@example.org", "UTC", 18)
        reader(session, "early@example.org", "UTC", 8)
    assert tick(datetime(2026, 11, 26, 9, tzinfo=UTC)) == [
        ("early@example.org", "daily-2026-11-26")
    ]
    with session_scope() as session:
        moved = session.scalars(select(Subscriber)).all()
        for subscriber in moved:
            # late moves to 08:00 (already past), early moves to 18:00 (already served)
            subscriber.send_hour = 8 if subscriber.email.startswith("late") else 18
    assert tick(datetime(2026, 11, 26, 10, tzinfo=UTC)) == [
        ("late@example.org", "daily-2026-11-26")
    ]
    for now in every_five_minutes(datetime(2026, 11, 26, 10, 5, tzinfo=UTC), 12):
        assert tick(now) == []


def test_beat_down_for_two_hours_is_late_not_lost_even_across_local_midnight(sqlite_url):
    with session_scope() as session:
        reader(session, "night@example.org", "Europe/Berlin", 23)
        reader(session, "early@example.org", "Europe/Berlin", 0)
        reader(session, "morning@example.org", "Europe/Berlin", 7)
    tick(datetime(2026, 11, 25, 12, tzinfo=UTC))  # the 25th's morning readers, served
    # Berlin is UTC+1. Beat stops at 21:30 UTC (22:30 local) and comes back at 23:30 UTC.
    assert tick(datetime(2026, 11, 25, 21, 30, tzinfo=UTC)) == []
    assert tick(datetime(2026, 11, 25, 23, 30, tzinfo=UTC)) == [
        ("early@example.org", "daily-2026-11-26"),
        ("night@example.org", "daily-2026-11-25"),
    ]
    made = []
    for now in every_five_minutes(datetime(2026, 11, 25, 23, 35, tzinfo=UTC), 24):
        made += tick(now)
    assert sorted(made) == [
        ("early@example.org", "daily-2026-11-27"),
        ("morning@example.org", "daily-2026-11-26"),
        ("night@example.org", "daily-2026-11-26"),
    ]


def test_a_new_reader_is_not_sent_yesterdays_missed_edition(sqlite_url):
    with session_scope() as session:
        reader(session, "old@example.org", "UTC", 23)
        reader(
            session, "new@example.org", "UTC", 23, joined=datetime(2026, 11, 26, 0, 10, tzinfo=UTC)
        )
    assert tick(datetime(2026, 11, 26, 0, 30, tzinfo=UTC)) == [
        ("old@example.org", "daily-2026-11-25")
    ]


def test_a_missed_slot_older_than_the_catchup_window_is_not_sent_stale(sqlite_url):
    with session_scope() as session:
        reader(session, "night@example.org", "UTC", 20)
    # 20:00 yesterday is 8 hours ago: more than the default 6-hour catch-up window.
    assert tick(datetime(2026, 11, 26, 4, tzinfo=UTC)) == []


def test_no_daily_digest_on_weekends_or_holidays_unless_configured(sqlite_url, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_ARXIV_HOLIDAYS", "2026-12-25")
    get_settings.cache_clear()
    with session_scope() as session:
        reader(session, "daily@example.org", "UTC", 7)
        reader(session, "weekly@example.org", "UTC", 7, frequency="weekly", weekday=5)
    saturday = datetime(2026, 11, 28, 8, tzinfo=UTC)
    assert tick(saturday) == [("weekly@example.org", "weekly-2026-W48")]
    assert tick(datetime(2026, 11, 29, 8, tzinfo=UTC)) == []  # Sunday
    assert tick(datetime(2026, 12, 25, 8, tzinfo=UTC)) == []  # holiday (a Friday)
    assert tick(datetime(2026, 11, 30, 8, tzinfo=UTC)) == [
        ("daily@example.org", "daily-2026-11-30")
    ]
    monkeypatch.setenv("NEWSLETTER_SEND_ON_QUIET_DAYS", "true")
    get_settings.cache_clear()
    assert tick(datetime(2026, 11, 29, 8, tzinfo=UTC)) == [
        ("daily@example.org", "daily-2026-11-29")
    ]


def test_a_weekly_reader_is_due_on_their_weekday_only(sqlite_url):
    with session_scope() as session:
        reader(session, "weekly@example.org", "Asia/Tokyo", 9, frequency="weekly", weekday=2)
    made = []
    for now in every_five_minutes(datetime(2026, 11, 23, tzinfo=UTC), 24 * 9 + 1, step=20):
        made += [(now, item) for item in tick(now)]
    # Wednesday 25th and Wednesday 2nd December, 09:00 Tokyo = 00:00 UTC.
    assert made == [
        (datetime(2026, 11, 25, 0, tzinfo=UTC), ("weekly@example.org", "weekly-2026-W48")),
        (datetime(2026, 12, 2, 0, tzinfo=UTC), ("weekly@example.org", "weekly-2026-W49")),
    ]


def test_the_next_due_label_names_monday_after_a_friday_digest():
    subscriber = Subscriber(
        email="a@example.org", timezone="Europe/Berlin", send_hour=7, frequency="daily"
    )
    friday_noon = datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert next_due_label(subscriber, friday_noon) == "Mon 30 Nov 2026, 07:00 (Europe/Berlin)"
    with time_machine.travel(friday_noon, tick=False):
        assert next_due_label(subscriber).startswith("Mon 30 Nov 2026")
    weekly = Subscriber(
        email="b@example.org", timezone="UTC", send_hour=9, frequency="weekly", weekday=6
    )
    assert next_send_time(weekly, friday_noon).date().isoformat() == "2026-11-29"


def test_planning_on_postgresql_is_idempotent_across_ticks(pg_url):
    with session_scope() as session:
        for n in range(30):
            reader(
                session,
                f"r{n}@example.org",
                ["UTC", "Asia/Kolkata", "America/Chicago"][n % 3],
                n % 24,
            )
    total = Counter[tuple[str, str]]()
    for now in every_five_minutes(datetime(2026, 11, 25, 12, tzinfo=UTC), 48, step=15):
        total.update(tick(now))
    assert set(total.values()) == {1}
    assert len(total) >= 30


def test_the_demo_can_include_quiet_days_without_changing_the_setting(sqlite_url):
    from newsletter.schedule import quiet_days_included

    with session_scope() as session:
        reader(session, "daily@example.org", "UTC", 7)
    sunday = datetime(2026, 11, 29, 8, tzinfo=UTC)
    with quiet_days_included():
        assert tick(sunday) == [("daily@example.org", "daily-2026-11-29")]
    assert not get_settings().send.on_quiet_days
