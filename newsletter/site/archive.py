"""Past editions as the public saw them: each day's shared candidate list, never picks.

An edition freezes its candidates (most upvoted first) when it opens; every reader's
digest is chosen from that list. The list is public; which papers a reader got is not,
so the archive reads `Edition.candidate_ids` only, never `Delivery.papers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.models import Edition, Frequency
from newsletter.site.cards import Card, cards_by_id
from newsletter.timeutil import as_utc

DAYS_PER_PAGE = 30
PAPERS_PER_PAGE = 50
PREVIEW = 3
PREFIX = f"{Frequency.DAILY}-"


@dataclass(frozen=True)
class Day:
    day: date
    count: int
    opened: datetime
    top: list[Card]


@dataclass(frozen=True)
class DayList:
    days: list[Day]
    page: int
    pages: int


@dataclass(frozen=True)
class DayPage:
    day: date
    opened: datetime
    total: int
    cards: list[Card]
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAPERS_PER_PAGE))


def edition_key(day: date) -> str:
    return f"{PREFIX}{day.isoformat()}"


def list_days(session: Session, page: int = 1) -> DayList:
    """The daily editions, newest first, DAYS_PER_PAGE a page, with their top papers."""
    daily = Edition.frequency == Frequency.DAILY
    total = int(session.scalar(select(func.count()).select_from(Edition).where(daily)) or 0)
    pages = max(1, -(-total // DAYS_PER_PAGE))
    page = max(1, min(page, pages))
    rows = session.execute(
        select(Edition.key, Edition.opened_at, Edition.candidate_ids)
        .where(daily)
        .order_by(Edition.key.desc())
        .limit(DAYS_PER_PAGE)
        .offset((page - 1) * DAYS_PER_PAGE)
    ).all()
    wanted = [i for row in rows for i in (row.candidate_ids or [])[:PREVIEW]]
    cards = {card.arxiv_id: card for card in cards_by_id(session, wanted)}
    days = [
        Day(
            day=date.fromisoformat(row.key.removeprefix(PREFIX)),
            count=len(row.candidate_ids or []),
            opened=as_utc(row.opened_at),
            top=[cards[i] for i in (row.candidate_ids or [])[:PREVIEW] if i in cards],
        )
        for row in rows
    ]
    return DayList(days, page, pages)


def day_page(session: Session, day: date, page: int = 1) -> DayPage | None:
    """One day's edition, PAPERS_PER_PAGE at a time, in its frozen order (None: no edition)."""
    row = session.execute(
        select(Edition.opened_at, Edition.candidate_ids).where(Edition.key == edition_key(day))
    ).first()
    if row is None:
        return None
    ids = list(row.candidate_ids or [])
    pages = max(1, -(-len(ids) // PAPERS_PER_PAGE))
    page = max(1, min(page, pages))
    start = (page - 1) * PAPERS_PER_PAGE
    cards = cards_by_id(session, ids[start : start + PAPERS_PER_PAGE])
    return DayPage(day, as_utc(row.opened_at), len(ids), cards, page)
