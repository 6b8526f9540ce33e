"""The public site through the real app: front page, paper pages, archive, caching."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from newsletter import services
from newsletter.db import session_scope
from newsletter.ingest.service import run_ingest
from newsletter.models import Paper
from newsletter.web import public
from tests.conftest import _reset_process_state
from tests.subscriptions.factories import make_subscriber
from tests.web.site_papers import DAY, add_edition, add_paper, add_sample, add_sent_delivery

TITLES = re.compile(r'<h[23]><a href="/papers/([^"]+)">')


def ids_on(html: str) -> list[str]:
    return TITLES.findall(html)


@pytest.fixture
def uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SITE_CACHE_SECONDS", "0")


def test_the_front_page_lists_the_latest_days_papers_most_upvoted_first(client: TestClient):
    add_paper("2511.00001", "Quiet paper", "We propose little.", upvotes=1)
    add_paper(
        "2511.00002",
        "Loud paper",
        "Transformers are everywhere. However, they are slow. We propose FastFormer, a "
        "linear-time attention.",
        upvotes=40,
        num_comments=3,
        github_stars=1234,
        authors=[{"name": n} for n in ("Ada", "Alan", "Grace", "Edsger", "Barbara")],
        hf_url="https://huggingface.co/papers/2511.00002",
        code_url="https://github.com/x/fastformer",
        project_url="javascript:alert(1)",
        thumbnail_url="https://cdn.example.org/thumb.png",
        ai_summary=None,
    )
    add_paper(
        "2511.00003",
        "Yesterday's paper",
        "We show old things.",
        published_at=DAY - timedelta(days=1),
    )
    page = client.get("/")
    assert page.status_code == 200
    assert ids_on(page.text) == ["2511.00002", "2511.00001"]
    html = page.text
    assert "Ada, Alan, Grace et al." in html
    assert "We propose FastFormer, a linear-time attention." in html  # the TL;DR
    assert "<details><summary>Abstract</summary><p>Transformers are everywhere." in html
    assert "▲ 40 upvotes" in html and "3 comments" in html and "★ 1,234 GitHub stars" in html
    assert 'href="https://arxiv.org/abs/2511.00002"' in html
    assert 'href="https://arxiv.org/pdf/2511.00002"' in html
    assert 'href="https://github.com/x/fastformer"' in html
    assert "javascript:" not in html
    assert re.search(
        r'<img class="thumb" src="https://cdn.example.org/thumb.png" alt="[^"]+" '
        r'width="160" height="84"',
        html,
    )
    # The subscribe box leads to the full form; nothing on this page POSTs.
    assert '<form class="subscribe" method="get" action="/signup">' in html
    assert 'method="post"' not in html


def test_week_month_new_and_earlier_days_are_links_away(client: TestClient):
    add_paper("2511.00001", "Today low", upvotes=1)
    add_paper("2511.00002", "Today high", upvotes=9, published_at=DAY - timedelta(hours=1))
    add_paper("2511.00003", "Three days ago", upvotes=50, published_at=DAY - timedelta(days=3))
    add_paper("2511.00004", "Last month", upvotes=99, published_at=DAY - timedelta(days=20))
    assert ids_on(client.get("/?period=week").text) == ["2511.00003", "2511.00002", "2511.00001"]
    assert ids_on(client.get("/?period=month").text)[0] == "2511.00004"
    assert ids_on(client.get("/?sort=new").text) == ["2511.00001", "2511.00002"]
    front = client.get("/").text
    earlier = re.search(r'<a href="([^"]+)">← Earlier</a>', front)
    assert earlier and earlier.group(1) == "/?date=2026-11-22"  # the gap days are skipped
    assert ids_on(client.get(earlier.group(1)).text) == ["2511.00003"]
    assert ids_on(client.get("/?date=2026-11-05").text) == ["2511.00004"]


@pytest.mark.parametrize(
    "query", ["period=year", "sort=best", "date=2026-13-01", "date=yesterday", "page=0", "page=x"]
)
def test_a_bad_query_value_gets_a_400_page_not_a_traceback(client: TestClient, query: str):
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    assert "We could not understand this request" in response.text


def test_the_front_page_of_an_empty_site_says_how_papers_arrive(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200
    assert "No papers yet" in page.text


def test_public_pages_set_no_cookie_and_answer_304_to_a_client_that_has_them(client: TestClient):
    add_paper("2511.00001", "A paper", "We propose a thing.")
    for url in ("/", "/papers/2511.00001", "/search?q=thing", "/archive", "/feed.atom"):
        first = client.get(url)
        assert first.status_code == 200, url
        assert "set-cookie" not in first.headers, url
        assert first.headers["cache-control"] == "public, max-age=60"
        again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, url
        assert again.content == b""
    front = client.get("/")
    since = client.get("/", headers={"If-Modified-Since": front.headers["last-modified"]})
    assert since.status_code == 304


def test_the_server_reuses_a_page_for_its_cache_period_and_not_when_caching_is_off(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    add_paper("2511.00001", "A paper", upvotes=1)
    assert "▲ 1 upvote<" in client.get("/").text
    with session_scope() as session:
        session.execute(update(Paper).values(upvotes=7))
    assert "▲ 1 upvote<" in client.get("/").text  # served from the page cache
    monkeypatch.setenv("NEWSLETTER_SITE_CACHE_SECONDS", "0")
    _reset_process_state()
    fresh = client.get("/")
    assert "▲ 7 upvotes" in fresh.text
    assert fresh.headers["cache-control"] == "public, no-cache"


def test_a_paper_page_shows_the_whole_abstract_and_its_nearest_neighbours(
    client: TestClient, uncached: None
):
    ids = add_sample(40)
    # MindForge (Minecraft agents): its neighbours are the other Minecraft/agent papers.
    page = client.get(f"/papers/{ids[0]}")
    assert page.status_code == 200
    assert "Lifelong Collaborative Learning" in page.text
    assert "paves the way for the democratic development of embodied AI" in page.text
    related = ids_on(page.text)
    assert 3 <= len(related) <= 6 and ids[0] not in related
    titles = page.text.split("Related papers", 1)[1]
    assert "Minecraft" in titles
    # "Get papers like this one": the box carries the paper to the signup form.
    assert f'<input type="hidden" name="seed" value="{ids[0]}">' in page.text
    form = client.get(f"/signup?email=ada%40example.org&seed={ids[0]}")
    assert 'value="ada@example.org"' in form.text
    assert f'id="seed_papers" name="seed_papers" value="{ids[0]}"' in form.text
    assert f"Papers like {ids[0]} will lead your digest" in form.text


def test_old_style_ids_have_pages_and_unknown_ids_a_404(client: TestClient):
    add_paper("hep-th/9901001", "Strings", "We study strings.")
    assert client.get("/papers/hep-th/9901001").status_code == 200
    missing = client.get("/papers/2511.99999")
    assert missing.status_code == 404
    assert "No such paper here" in missing.text


def test_the_archive_lists_daily_editions_newest_first_and_shows_the_shared_list_only(
    client: TestClient,
):
    for n in range(1, 5):
        add_paper(f"2511.0000{n}", f"Paper {n}")
    older = add_edition(DAY - timedelta(days=1), ["2511.00004"])
    newer = add_edition(DAY, ["2511.00002", "2511.00001", "2511.00003"])
    reader = make_subscriber("ada@example.org")
    add_sent_delivery(newer, reader.id, ["2511.00003"], DAY)
    add_sent_delivery(older, reader.id, ["2511.00004"], DAY)
    archive = client.get("/archive").text
    assert archive.index("/archive/2026-11-25") < archive.index("/archive/2026-11-24")
    day = client.get("/archive/2026-11-25")
    # The frozen candidate order, all of it: not what one reader was sent.
    assert ids_on(day.text) == ["2511.00002", "2511.00001", "2511.00003"]
    assert "ada@example.org" not in day.text
    assert client.get("/archive/2026-01-01").status_code == 404
    assert client.get("/archive/not-a-date").status_code == 400


def test_the_archive_pages_through_many_editions(client: TestClient):
    add_paper("2511.00001", "Paper")
    for n in range(35):
        add_edition(DAY - timedelta(days=n), ["2511.00001"])
    first = client.get("/archive").text
    assert first.count('<li class="card">') == 30
    assert 'href="/archive?page=2"' in first
    assert client.get("/archive?page=2").text.count('<li class="card">') == 5


def test_the_demo_sample_fills_the_front_page(client: TestClient, uncached: None):
    run_ingest("sample")
    first, second = client.get("/").text, client.get("/?page=2").text
    assert "84 papers" in first
    assert len(ids_on(first)) + len(ids_on(second)) == 84


def test_the_page_cache_stays_within_its_size_by_dropping_the_oldest_pages(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    add_paper("2511.00001", "A paper", "We propose a thing.")
    size = len(client.get("/search?q=a0").content)
    monkeypatch.setattr(public, "MAX_BYTES", int(size * 2.5))
    for n in range(1, 6):
        client.get(f"/search?q=a{n}")
    pages = services.current().cache("site.pages")
    assert [query for _, query in pages] == ["q=a4", "q=a5"]
