"""Serve the public site's pages: no cookies, HTTP caching, and a short server-side cache.

Public pages (the trending list, papers, search, archive, the public feed) are the same
for everyone, so they carry no CSRF token or cookie and can be cached: by the server for
NEWSLETTER_SITE_CACHE_SECONDS (one render serves every visitor meanwhile), and by
browsers and proxies, which revalidate with ETag / Last-Modified and get a 304.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from newsletter import services
from newsletter.config import get_settings
from newsletter.web.templating import page_environment

# Pages kept per process, by count and by size; the oldest go first. Every query string
# is its own entry, so a crawler of random URLs must not grow a process without bound.
MAX_ENTRIES = 2000
MAX_BYTES = 48 * 1024 * 1024

# The one script of the public pages removes a thumbnail that failed to load, so its
# card closes the gap. It is allowed by its hash: a cached page cannot carry a fresh nonce.
THUMBNAIL_SCRIPT = (
    'document.querySelectorAll("img.thumb").forEach(function (img) {'
    " function gone() { var box = img.closest('.thumb-box'); if (box) { box.remove(); } }"
    " if (img.complete && img.naturalWidth === 0) { gone(); }"
    ' else { img.addEventListener("error", gone); } });'
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(THUMBNAIL_SCRIPT.encode()).digest()).decode()


@dataclass(frozen=True)
class Page:
    """A rendered public response, as cached."""

    body: bytes
    status: int
    media_type: str
    etag: str
    last_modified: datetime | None
    private: bool = False


def public_headers() -> dict[str, str]:
    """Security headers of public pages: thumbnails may come from any https host."""
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'sha256-{_SCRIPT_HASH}'; img-src 'self' data: https:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def render(
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    media_type: str = "text/html; charset=utf-8",
    last_modified: datetime | None = None,
    private: bool = False,
) -> Page:
    """Render a public template (no CSRF token: these pages hold no POST form)."""
    html = (
        page_environment()
        .get_template(template)
        .render({"thumbnail_script": THUMBNAIL_SCRIPT, **context})
    )
    body = html.encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Page(body, status, media_type, etag, last_modified, private)


async def cached(request: Request, build: Callable[[], Page], key: Hashable = None) -> Response:
    """Answer from this process's page cache, building the page when missing or stale.

    A hit is answered on the event loop; only a miss goes to the thread pool, where the
    database and the template work. The key is the path and the query string as sent,
    so every variant is its own page, unless the caller names the version in `key`.
    Errors (4xx) are cached too: a flood of bad URLs costs one render each per period.
    """
    seconds = get_settings().site.cache_seconds
    if seconds <= 0:
        return respond(request, await run_in_threadpool(build), 0)
    cache = services.current().cache("site.pages")
    key = key or (request.url.path, request.url.query)
    now = time.monotonic()
    entry = cache.get(key)
    if entry is None or entry[0] <= now:
        page = await run_in_threadpool(build)
        _make_room(cache, len(page.body))
        cache[key] = entry = (now + seconds, page)
    return respond(request, entry[1], seconds)


def _make_room(cache: dict[Any, Any], size: int) -> None:
    total = sum(len(entry[1].body) for entry in cache.values()) + size
    for key in list(cache):
        if len(cache) < MAX_ENTRIES and total <= MAX_BYTES:
            return
        total -= len(cache.pop(key)[1].body)


def respond(request: Request, page: Page, max_age: int) -> Response:
    """Turn a page into a response, or a 304 when the client already holds this version."""
    headers = public_headers()
    headers["ETag"] = page.etag
    if page.last_modified is not None:
        headers["Last-Modified"] = format_datetime(
            page.last_modified.replace(microsecond=0), usegmt=True
        )
    scope = "private" if page.private else "public"
    headers["Cache-Control"] = (
        f"{scope}, max-age={max_age}"
        if max_age > 0 and page.status == 200
        else f"{scope}, no-cache"
    )
    if page.status == 200 and _not_modified(request, page):
        return Response(status_code=304, headers=headers)
    return Response(page.body, status_code=page.status, media_type=page.media_type, headers=headers)


def _not_modified(request: Request, page: Page) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return page.etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since and page.last_modified is not None:
        try:
            return page.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False
