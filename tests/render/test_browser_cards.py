"""The richer cards in headless Chromium: images blocked or loaded, and "Also trending".

Screenshots go to test-artifacts/render/ (cards-*.png) for a human to look at.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from newsletter.render.digest import EditionLabels
from newsletter.render.parts import EditionParts
from newsletter.render.signing import click_urls
from tests.render import factories
from tests.render.messy import messy_picks
from tests.render.test_browser import ARTIFACTS, browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser

# A 1200x630 PNG stand-in for Hugging Face's thumbnails (one grey pixel, scaled).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNoaGgAAAMEAYFL09IQAAAAAElFTkSuQmCC"
)


def digest_file(name: str, *, trending: bool) -> Path:
    parts = EditionParts(EditionLabels.from_key("daily-2026-11-26"))
    reader = factories.reader(pool=412)
    html = parts.compose(reader, messy_picks(trending), click_urls, limit=None).html_str
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    return path


def open_page(browser, path: Path, *, images: bool, width: int = 1024, served=None):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900})

    def route(route):
        url = route.request.url
        if url.startswith("file:"):
            route.continue_()
        elif images and url.startswith("https://cdn-thumbnails.huggingface.co/"):
            if served is not None:
                served.append(url)
            route.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


def boxes(page) -> list[tuple[int, int, int, int]]:
    found = []
    for selector in ("h2.title", "p.lead", "p.reason", "p.links", "div.thumb"):
        for element in page.locator(selector).all():
            box = element.bounding_box() or {"x": 0, "y": 0, "width": 0, "height": 0}
            found.append(tuple(round(v) for v in (box["x"], box["y"], box["width"], box["height"])))
    return found


@pytest.mark.parametrize("width", [375, 1024])
def test_blocked_images_leave_every_card_exactly_where_loaded_ones_put_it(browser, width):  # noqa: F811
    path = digest_file("cards", trending=False)
    served: list[str] = []
    loaded = open_page(browser, path, images=True, width=width, served=served)
    blocked = open_page(browser, path, images=False, width=width)
    try:
        if width >= 620:
            assert len(set(served)) == 2  # both thumbnails were drawn when allowed
        assert blocked.evaluate("document.images.length") == 0  # no <img> to break
        for thumb in blocked.locator("div.thumb").all():
            if width < 620:  # phones: the title gets the whole width, no thumbnail
                assert not thumb.is_visible()
                continue
            box = thumb.bounding_box()
            assert (round(box["width"]), round(box["height"])) == (120, 63)
            # Blocked: nothing drawn there (a transparent box on the white card).
            assert thumb.evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"
        assert boxes(loaded) == boxes(blocked)
        blocked.screenshot(
            path=str(ARTIFACTS / f"cards-{width}-images-blocked.png"), full_page=True
        )
        loaded.screenshot(path=str(ARTIFACTS / f"cards-{width}-images-loaded.png"), full_page=True)
    finally:
        loaded.close()
        blocked.close()


def test_also_trending_follows_the_readers_own_picks(browser):  # noqa: F811
    path = digest_file("cards-trending", trending=True)
    page = open_page(browser, path, images=False, width=600)
    try:
        sections = page.locator("td.section").all_inner_texts()
        assert [s.strip().lower() for s in sections] == ["for you", "also trending"]
        titles = page.locator("h2.title").all_inner_texts()
        trending_top = page.locator("td.section").nth(1).bounding_box()["y"]
        below = [
            t
            for t, el in zip(titles, page.locator("h2.title").all(), strict=True)
            if el.bounding_box()["y"] > trending_top
        ]
        assert below == ["Gemma 4 technical report", "Protein folding at the scale of a genome"]
        assert page.locator("h1.heading").inner_text() == "4 picks from 412 new papers today"
        page.screenshot(path=str(ARTIFACTS / "cards-also-trending.png"), full_page=True)
    finally:
        page.close()
