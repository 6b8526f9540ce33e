"""The archive: every past daily edition's shared trending list, newest first."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from newsletter.db import session_scope
from newsletter.site.archive import day_page, list_days
from newsletter.site.cards import newest_change
from newsletter.web.public import Page, cached, render

router = APIRouter()
Pages = Annotated[int, Query(ge=1, le=10_000)]


def archive_page(page: int) -> Page:
    with session_scope() as session:
        listing = list_days(session, page)
    return render(
        "archive.html",
        {
            "section": "archive",
            "listing": listing,
            "page_url": lambda n: f"/archive?page={n}",
        },
        last_modified=max((d.opened for d in listing.days), default=None),
    )


def edition_page(day: date, page: int) -> Page:
    with session_scope() as session:
        edition = day_page(session, day, page)
    if edition is None:
        return render(
            "notice.html",
            {
                "title": "No edition that day",
                "message": f"There was no daily edition on {day.isoformat()}.",
                "link": ("See all editions", "/archive"),
            },
            status=404,
        )
    return render(
        "archive_day.html",
        {
            "section": "archive",
            "edition": edition,
            "page_url": lambda n: f"/archive/{day.isoformat()}?page={n}",
        },
        last_modified=max(filter(None, [edition.opened, newest_change(edition.cards)])),
    )


@router.get("/archive")
async def archive(request: Request, page: Pages = 1) -> Response:
    """The list of past editions."""
    return await cached(request, lambda: archive_page(page))


@router.get("/archive/{day}")
async def archive_day(request: Request, day: date, page: Pages = 1) -> Response:
    """One past edition's papers, in the order the edition froze them."""
    return await cached(request, lambda: edition_page(day, page))
