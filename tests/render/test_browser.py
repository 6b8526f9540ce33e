"""The digest in a real browser (headless Chromium) at phone and desktop widths.

Screenshots are kept in test-artifacts/render/ for a human to look at.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.render.digest import EditionLabels
from newsletter.render.parts import EditionParts
from newsletter.render.signing import click_urls
from tests.render import factories
from tests.services import service_missing

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "render"

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5) {
      bad.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, bad: bad.slice(0, 10)};
}"""

PIXELS = """async (png) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + png;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const colors = new Set();
  let differing = 0, samples = 0;
  for (let i = 0; i < d.length; i += 4 * 7) {
    samples++;
    colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 40) {
      differing++;
    }
  }
  return {colors: colors.size, differing: differing / samples};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        service_missing("Chromium (/usr/bin/chromium)", FileNotFoundError(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def digest_file() -> Path:
    picks = factories.picks(8)
    # A worst case for narrow screens: an unbreakable word and a long URL-like string.
    picks[2] = factories.Card(
        factories.paper(3, title="Supercalifragilistic" * 12, abstract="x" * 400 + ". Done."),
        reason="https://example.org/" + "very-long-path/" * 20,
    )
    parts = EditionParts(EditionLabels.from_key("daily-2026-11-26"))
    html = parts.compose(factories.reader(), picks, click_urls).html_str
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "digest.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("width", "scheme", "container", "background"),
    [
        (375, "light", 375, "rgb(244, 244, 245)"),
        (375, "dark", 375, "rgb(24, 24, 27)"),
        (1024, "light", 600, "rgb(244, 244, 245)"),
        (1024, "dark", 600, "rgb(24, 24, 27)"),
    ],
)
def test_the_digest_fits_phones_and_desktops_in_light_and_dark_mode(
    browser, width, scheme, container, background
):
    path = digest_file()
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    try:
        # Images off, as many mail clients start: nothing may leave the machine.
        page.route(
            "**/*",
            lambda route: (
                route.abort() if not route.request.url.startswith("file:") else route.continue_()
            ),
        )
        page.goto(path.as_uri())
        layout = page.evaluate(OVERFLOW)
        assert layout["bad"] == [], layout
        assert layout["scrollWidth"] <= width
        # The @media rules (with !important) beat the inlined styles.
        box = page.locator("table.container").bounding_box()
        assert box is not None and round(box["width"]) == container
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
        shot = ARTIFACTS / f"digest-{width}-{scheme}.png"
        png = page.screenshot(path=str(shot), full_page=True)
        pixels = page.evaluate(PIXELS, base64.b64encode(png).decode())
        assert pixels["colors"] > 20 and pixels["differing"] > 0.02, pixels  # not blank
    finally:
        page.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("CI"):
        print(f"screenshot: {shot}")
