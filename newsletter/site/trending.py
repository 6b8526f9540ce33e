"""The trending list: a day's (or week's, or month's) papers, most upvoted or newest first."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.models import Paper
from newsletter.site.cards import Card, card_of, card_query
from newsletter.timeutil import as_utc

PER_PAGE = 50


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Sort(enum.StrEnum):
    TRENDING = "trending"
    NEW = "new"


DAYS = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 30}


@dataclass(frozen=True)
class Listing:
    """One page of a trending list and where it sits among the days and pages."""

    day: date | None
    period: Period
    sort: Sort
    page: int
    total: int
    cards: list[Card]
    previous_day: date | None
    next_day: date | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def latest_day(session: Session) -> date | None:
    """The newest announcement day: the day of the most recently published paper."""
    newest = session.scalar(select(func.max(Paper.published_at)).where(Paper.withdrawn.is_(False)))
    return as_utc(newest).date() if newest else None


def _neighbour_day(session: Session, day: date, later: bool) -> date | None:
    """The nearest earlier (or later) day that has papers, so "previous" never lands on a gap."""
    column = Paper.published_at
    if later:
        found = session.scalar(
            select(func.min(column)).where(column >= _start(day + timedelta(days=1)))
        )
    else:
        found = session.scalar(select(func.max(column)).where(column < _start(day)))
    return as_utc(found).date() if found else None


def trending(
    session: Session,
    period: Period = Period.DAY,
    sort: Sort = Sort.TRENDING,
    day: date | None = None,
    page: int = 1,
) -> Listing:
    """Return one page of the papers published in the `period` that ends on `day`.

    `day` defaults to the latest announcement day, so the front page is never empty just
    because today's papers are not out yet.
    """
    day = day or latest_day(session)
    if day is None:
        return Listing(None, period, sort, 1, 0, [], None, None)
    end = _start(day + timedelta(days=1))
    start = end - timedelta(days=DAYS[period])
    in_window = (Paper.published_at >= start) & (Paper.published_at < end)
    total = int(
        session.scalar(
            select(func.count()).select_from(Paper).where(Paper.withdrawn.is_(False), in_window)
        )
        or 0
    )
    order = (
        (Paper.upvotes.desc(), Paper.num_comments.desc(), Paper.published_at.desc(), Paper.id)
        if sort == Sort.TRENDING
        else (Paper.published_at.desc(), Paper.id.desc())
    )
    page = max(1, min(page, max(1, -(-total // PER_PAGE))))
    rows = session.execute(
        card_query().where(in_window).order_by(*order).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return Listing(
        day=day,
        period=period,
        sort=sort,
        page=page,
        total=total,
        cards=[card_of(row) for row in rows],
        previous_day=_neighbour_day(session, day - timedelta(days=DAYS[period] - 1), later=False),
        next_day=_neighbour_day(session, day, later=True),
    )
