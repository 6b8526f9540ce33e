"""Editions: one digest window each, with candidate papers frozen when it opens, and
the Delivery rows of the readers due in it (the plan step of newsletter.chain)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.models import (
    Delivery,
    DeliveryState,
    Edition,
    Frequency,
    Paper,
    Subscriber,
    SubscriberStatus,
)
from newsletter.schedule import (
    DueSubscriber,
    daily_key,
    due_subscribers,
    edition_window,
    local_slot,
    weekly_key,
)
from newsletter.timeutil import utcnow

LOOKBACK = {Frequency.DAILY: timedelta(days=2), Frequency.WEEKLY: timedelta(days=8)}
MAX_CANDIDATES = 2000


def candidate_ids(session: Session, frequency: str, now: datetime) -> list[str]:
    """Pick the papers an edition opening at `now` offers: new or newly seen in its lookback."""
    since = now - LOOKBACK[Frequency(frequency)]
    query = (
        select(Paper.arxiv_id)
        .where(Paper.withdrawn.is_(False))
        .where(or_(Paper.first_seen_at >= since, Paper.published_at >= since))
        .order_by(Paper.upvotes.desc(), Paper.published_at.desc(), Paper.id)
        .limit(MAX_CANDIDATES)
    )
    return list(session.scalars(query))


def get_or_open_edition(session: Session, key: str, now: datetime | None = None) -> Edition:
    """Return the edition named `key`, opening it (and freezing its candidates) if new.

    Two planners racing to open the same edition both end up with the one row the
    unique key let through.
    """
    edition = session.scalar(select(Edition).where(Edition.key == key))
    if edition is not None:
        return edition
    now = now or utcnow()
    frequency = key.split("-", 1)[0]
    start, end = edition_window(key)
    edition = Edition(
        key=key,
        frequency=frequency,
        window_start=start,
        window_end=end,
        opened_at=now,
        candidate_ids=candidate_ids(session, frequency, now),
    )
    try:
        with session.begin_nested():
            session.add(edition)
    except IntegrityError:
        edition = session.scalars(select(Edition).where(Edition.key == key)).one()
    return edition


def plan_deliveries(session: Session, now: datetime | None = None) -> list[int]:
    """Create Delivery rows for everyone due at `now`; return the ids of the new rows.

    Insert-or-ignore on (edition, subscriber): planning twice, or two planners at once,
    never makes a second delivery.
    """
    now = now or utcnow()
    return _plan(session, due_subscribers(session, now), now)


def plan_for(
    session: Session, subscriber_ids: Sequence[int], now: datetime | None = None
) -> list[int]:
    """Create Delivery rows of the current edition for these active readers, whatever
    their send hour (the demo; an operator's "send now"). Never a second delivery."""
    now = now or utcnow()
    readers = session.execute(
        select(Subscriber.id, Subscriber.timezone, Subscriber.frequency).where(
            Subscriber.id.in_(list(subscriber_ids)), Subscriber.status == SubscriberStatus.ACTIVE
        )
    ).all()
    due = []
    for sid, timezone, frequency in readers:
        today = local_slot(timezone, now).local_date
        key = weekly_key(today) if frequency == Frequency.WEEKLY else daily_key(today)
        due.append(DueSubscriber(sid, key))
    return _plan(session, due, now)


def _plan(session: Session, due: Sequence[DueSubscriber], now: datetime) -> list[int]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for item in due:
        by_key[item.edition_key].append(item.subscriber_id)
    created: list[int] = []
    for key, subscriber_ids in sorted(by_key.items()):
        edition = get_or_open_edition(session, key, now)
        rows = [
            {
                "edition_id": edition.id,
                "subscriber_id": sid,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for sid in subscriber_ids
        ]
        created.extend(_insert_ignore(session, rows))
    return sorted(created)


def _insert_ignore(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ids: list[int] = []
    for start in range(0, len(rows), 500):
        statement = (
            insert(Delivery)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
            .returning(Delivery.id)
        )
        ids.extend(session.scalars(statement))
    return ids
