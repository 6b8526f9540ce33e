"""Editions: one digest window each, with candidate papers frozen when it opens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.models import Edition, Frequency, Paper
from newsletter.schedule import edition_window
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
