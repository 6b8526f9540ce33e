"""The public site in headless Chromium: phone and desktop, light and dark, and the
subscribe box from a paper's page to a first digest that brings that paper's neighbours.

Screenshots go to test-artifacts/site/ (look at them: tests cannot see a bad layout).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from newsletter.chain import run_due
from newsletter.db import session_scope
from newsletter.models import Edition, Paper
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import outbox_messages, text_of
from tests.web.site_papers import add_edition, add_sample
from tests.web.test_browser import (  # the live server and browser of the signup tests
    LiveServer,
    browser,
    live_server,
    no_horizontal_overflow,
    server,
)

__all__ = ["browser", "live_server", "server"]  # fixtures, imported to be found

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "site"
# A 16:9 grey PNG served for https://thumbs.test/ok.png; broken.png answers 404.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAJCAIAAAC0SDtlAAAAFklEQVR4nGN49OgRSYhhVMOohuGrAQDdqOMnTxDt"
    "ZAAAAABJRU5ErkJggg=="
)
SIZES = {"phone": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def site(server: LiveServer) -> Iterator[LiveServer]:
    """The live server with the 84 sample papers (arXiv-style ids), thumbnails and an edition."""
    with session_scope() as session:
        stored = session.scalar(select(Paper.id).where(Paper.arxiv_id == "2511.00001"))
    if stored is None:
        # All on today's date whatever the hour (84 papers a minute apart from noon).
        ids = add_sample(84, day=utcnow().replace(hour=12, minute=0, second=0, microsecond=0))
        with session_scope() as session:
            # The four most upvoted have thumbnails; the fourth's fails to load.
            top = session.scalars(
                select(Paper.arxiv_id).order_by(Paper.upvotes.desc(), Paper.id).limit(4)
            ).all()
            for n, arxiv_id in enumerate(top):
                session.execute(
                    update(Paper)
                    .where(Paper.arxiv_id == arxiv_id)
                    .values(
                        num_comments=12 - n,
                        thumbnail_url=f"https://thumbs.test/{'broken' if n == 3 else 'ok'}.png",
                        github_stars=321 if n < 3 else None,
                        authors=[{"name": f"Author {k}"} for k in range(1, 3 + n * 2)],
                    )
                )
        # Yesterday's: today's edition is the one the digest test opens, over all papers.
        midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        add_edition(midnight - timedelta(days=1), ids[:30])
    yield server


def new_page(browser: Any, size: str, scheme: str = "light", **options: Any) -> Any:
    context = browser.new_context(viewport=SIZES[size], color_scheme=scheme, **options)

    def thumbnails(route: Any) -> None:
        if route.request.url.endswith("/ok.png"):
            route.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            route.fulfill(status=404, body=b"")

    context.route("https://thumbs.test/**", thumbnails)
    return context.new_page()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def images_without_alt_or_size(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """Array.from(document.images)
                .filter(i => !i.getAttribute('alt')
                    || !i.getAttribute('width') || !i.getAttribute('height'))
                .map(i => i.outerHTML)"""
        )
    )


def edition_day() -> str:
    with session_scope() as session:
        key = session.scalar(select(Edition.key).order_by(Edition.key.desc()))
    assert key
    return key.removeprefix("daily-")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_page_fits_the_screen_and_every_image_has_alt_text_and_a_size(
    browser: Any, site: LiveServer, size: str, scheme: str
):
    page = new_page(browser, size, scheme)
    pages = {
        "front": "/",
        "week": "/?period=week&sort=new",
        "paper": "/papers/2511.00001",
        "search": "/search?q=%22in-context+learning%22+-video",
        "archive": "/archive",
        "edition": f"/archive/{edition_day()}",
        "signup": "/signup?email=ada%40example.org",
    }
    for name, path in pages.items():
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert no_horizontal_overflow(page), path
        assert images_without_alt_or_size(page) == [], path
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(20, 22, 26)" if scheme == "dark" else "rgb(255, 255, 255)")
        shot(page, f"{name}-{size}-{scheme}")
    page.context.close()


def test_a_thumbnail_that_fails_leaves_no_gap_and_one_that_loads_keeps_its_box(
    browser: Any, site: LiveServer
):
    page = new_page(browser, "desktop")
    page.goto(site.url + "/")
    page.wait_for_load_state("networkidle")
    # The failed one is gone, box and all: the card closes up.
    assert page.locator("img[src$='broken.png']").count() == 0
    assert page.locator("li.card").nth(3).locator(".thumb-box").count() == 0
    loaded = page.locator("img[src$='ok.png']")
    assert loaded.count() == 3
    box = loaded.first.bounding_box()
    assert box and (round(box["width"]), round(box["height"])) == (160, 84)
    page.context.close()


def test_the_front_page_subscribe_box_fills_in_the_full_form(browser: Any, site: LiveServer):
    page = new_page(browser, "desktop")
    page.goto(site.url + "/")
    page.fill("#subscribe-email", "grace@example.org")
    page.click(".subscribe button")
    page.wait_for_url(re.compile(r".*/signup\?email=grace%40example\.org$"))
    assert page.locator("#email").input_value() == "grace@example.org"
    assert page.locator("#keywords").count() == 1  # the full form: topics, hour, timezone
    page.context.close()


def test_get_papers_like_this_one_signs_up_and_the_first_digest_brings_its_neighbours(
    browser: Any, site: LiveServer
):
    now = utcnow()
    page = new_page(browser, "phone", timezone_id="UTC")
    page.goto(site.url + "/papers/2511.00001")
    related = page.locator("h2:has-text('Related papers') ~ ol.cards h3 a").all_inner_texts()
    assert len(related) >= 3
    page.fill("#subscribe-email", "barbara@example.org")
    page.click(".subscribe button")
    page.wait_for_url(re.compile(r".*/signup\?.*seed=2511\.00001"))
    assert page.locator("#seed_papers").input_value() == "2511.00001"
    assert page.locator("#email").input_value() == "barbara@example.org"
    page.select_option("#hour", str(now.hour))
    shot(page, "subscribe-from-paper-phone")
    page.click("form[action='/signup'] button[type=submit]")
    page.wait_for_url(f"{site.url}/signup/sent")

    [confirmation] = outbox_messages(site.outbox, "barbara@example.org")
    confirm_url = next(w for w in text_of(confirmation).split() if "/confirm/" in w)
    page.goto(confirm_url)
    page.click("text=Yes, confirm my subscription")
    page.wait_for_selector("text=You're subscribed")
    page.context.close()

    run_due(now, in_process=True, include_quiet_days=True)
    digests = [
        m
        for m in outbox_messages(site.outbox, "barbara@example.org")
        if "confirm" not in m["Subject"].lower() and "welcome" not in m["Subject"].lower()
    ]
    assert len(digests) == 1
    digest = " ".join(text_of(digests[0]).split())  # titles may wrap across lines
    # The page's nearest neighbours are in the digest, picked for the seed.
    missing = [t for t in related[:4] if " ".join(t.split()) not in digest]
    assert missing == [], digest[:3000]
    assert "your seed paper" in digest
