"""Full-text search over papers: any text in, a ranked page of matches out, never a 5xx."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from newsletter.db import session_scope
from newsletter.site.cards import newest_change
from newsletter.site.search import MAX_QUERY, search
from newsletter.web.public import Page, cached, render

router = APIRouter()


def search_page(q: str, page: int) -> Page:
    with session_scope() as session:
        results = search(session, q, page)
    return render(
        "search.html",
        {
            "section": "search",
            "results": results,
            "max_query": MAX_QUERY,
            "page_url": lambda n: "/search?" + urlencode({"q": results.query, "page": n}),
        },
        last_modified=newest_change([hit.card for hit in results.hits]),
    )


@router.get("/search")
async def search_route(
    request: Request, q: str = "", page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    """Papers matching `q` in title, abstract or authors, best first, matches marked."""
    return await cached(request, lambda: search_page(q, page))
