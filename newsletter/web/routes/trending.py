"""The public front page (trending papers) and one paper's page with its neighbours."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from newsletter.db import session_scope
from newsletter.models import Paper
from newsletter.site.cards import card_of, card_query, newest_change
from newsletter.site.related import related_papers
from newsletter.site.trending import DAYS, Listing, Period, Sort, trending
from newsletter.web.public import Page, cached, render

router = APIRouter()

PERIODS = [(Period.DAY, "Day"), (Period.WEEK, "Week"), (Period.MONTH, "Month")]
SORTS = [(Sort.TRENDING, "Trending"), (Sort.NEW, "New")]
Pages = Annotated[int, Query(ge=1, le=10_000)]


def window_label(listing: Listing) -> str:
    assert listing.day is not None
    last = listing.day
    if listing.period == Period.DAY:
        return last.strftime("%A %-d %B %Y")
    first = last - timedelta(days=DAYS[listing.period] - 1)
    return f"{first.strftime('%-d %b')} – {last.strftime('%-d %b %Y')}"


def front_page(period: Period, sort: Sort, day: date | None, page: int) -> Page:
    with session_scope() as session:
        listing = trending(session, period, sort, day, page)
    state = {"period": period.value, "sort": sort.value, "date": day.isoformat() if day else None}

    def url(**changes: object) -> str:
        # Defaults stay out of the URL, so one page has one address (and one cache entry).
        merged = {**state, **{k: (str(v) if v is not None else None) for k, v in changes.items()}}
        defaults = {"period": "day", "sort": "trending", "page": "1"}
        query = {k: v for k, v in merged.items() if v is not None and defaults.get(k) != v}
        return "/?" + urlencode(query) if query else "/"

    heading = {
        Period.DAY: "Trending papers",
        Period.WEEK: "Trending papers of the week",
        Period.MONTH: "Trending papers of the month",
    }[period]
    if sort == Sort.NEW:
        heading = heading.replace("Trending papers", "New papers")
    return render(
        "trending.html",
        {
            "section": "trending",
            "heading": heading,
            "listing": listing,
            "window_label": window_label(listing) if listing.day else "",
            "periods": PERIODS,
            "sorts": SORTS,
            "url": url,
            "page_url": lambda n: url(page=n),
        },
        last_modified=newest_change(listing.cards),
    )


@router.get("/")
async def front(
    request: Request,
    period: Period = Period.DAY,
    sort: Sort = Sort.TRENDING,
    date: date | None = None,
    page: Pages = 1,
) -> Response:
    """Trending papers of the latest announcement day (or week, month), or of `date`."""
    return await cached(request, lambda: front_page(period, sort, date, page))


def paper_page(arxiv_id: str) -> Page:
    with session_scope() as session:
        row = session.execute(card_query().where(Paper.arxiv_id == arxiv_id)).first()
        if row is None:
            return render(
                "notice.html",
                {
                    "title": "No such paper here",
                    "message": f"We have no paper {arxiv_id!r}. It may not be announced yet.",
                    "link": ("Search papers", "/search"),
                },
                status=404,
            )
        paper = card_of(row)
        related = related_papers(session, row.arxiv_id, row.title, row.abstract or "")
    return render(
        "paper.html",
        {"section": "paper", "c": paper, "related": related},
        last_modified=paper.changed,
    )


@router.get("/papers/{arxiv_id:path}")
async def paper(request: Request, arxiv_id: str) -> Response:
    """One paper: its whole abstract, links, and the papers most like it."""
    return await cached(request, lambda: paper_page(arxiv_id[:64]))
