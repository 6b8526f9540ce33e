"""Search on both databases: ranked, highlighted, in step with edits, and any text is safe."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from newsletter.db import session_scope
from newsletter.models import Paper
from newsletter.site.search import clean_query, fts5_query
from newsletter.web.app import create_app
from tests.web.site_papers import add_paper

HITS = re.compile(r'<h2><a href="/papers/([^"]+)">')

NASTY = [
    '"',
    '"unclosed phrase',
    "a AND OR NOT b",
    "NEAR(a b, 2)",
    "title:diffusion",
    "diffus*",
    "^start",
    "(((",
    "a & b | !c <-> d:*",
    "-",
    "--",
    "- -x",
    "' OR 1=1; DROP TABLE papers; --",
    "\\",
    "%_%",
    "\x00",
    "dif\x00fusion",
    "\x1b[31mred",
    "🦄 emoji",
    "扩散模型",
    "מודל דיפוזיה",
    "e\u0301te\u0301",
    "\ue000marker\ue001",
    "the of and",
    " ",
    "x" * 10_000,
    "diffusion " * 1_000,
]


@pytest.fixture
def site(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSLETTER_SITE_CACHE_SECONDS", "0")
    add_paper(
        "2511.00001",
        "Diffusion models for image generation",
        "We propose a diffusion sampler.",
        authors=[{"name": "Grace Hopper"}],
    )
    add_paper(
        "2511.00002",
        "Graph neural networks",
        "We show that message passing helps, unlike diffusion on graphs.",
        authors=[{"name": "Edsger Dijkstra"}],
    )
    add_paper("2511.00003", "Optimal transport", "We study <script>alert(1)</script> couplings.")
    with TestClient(create_app()) as client:
        yield client


def found(client: TestClient, query: str) -> list[str]:
    response = client.get("/search", params={"q": query})
    assert response.status_code == 200
    return HITS.findall(response.text)


def test_a_title_match_ranks_above_an_abstract_match_and_terms_are_marked(site: TestClient):
    assert found(site, "diffusion") == ["2511.00001", "2511.00002"]
    html = site.get("/search", params={"q": "diffusion"}).text
    assert "<mark>Diffusion</mark> models for image generation" in html
    assert "unlike <mark>diffusion</mark> on graphs" in html


def test_authors_phrases_exclusions_and_stems_are_searched(site: TestClient):
    assert found(site, "hopper") == ["2511.00001"]
    assert found(site, '"message passing"') == ["2511.00002"]
    assert found(site, '"passing message"') == []
    assert found(site, "diffusion -graphs") == ["2511.00001"]
    assert found(site, "networks") == ["2511.00002"]
    assert found(site, "network") == ["2511.00002"]  # stemmed on both engines


def test_the_index_follows_edits_and_deletes(site: TestClient):
    with session_scope() as session:
        session.execute(
            update(Paper).where(Paper.arxiv_id == "2511.00003").values(title="Wasserstein flows")
        )
    assert found(site, "wasserstein") == ["2511.00003"]
    assert found(site, "optimal") == []
    with session_scope() as session:
        session.execute(update(Paper).values(upvotes=5))  # not an indexed column
        session.execute(delete(Paper).where(Paper.arxiv_id == "2511.00001"))
    assert found(site, "diffusion") == ["2511.00002"]


def test_text_in_results_is_escaped(site: TestClient):
    html = site.get("/search", params={"q": "couplings"}).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("query", NASTY, ids=range(len(NASTY)))
def test_any_query_text_gets_a_page_never_a_5xx(site: TestClient, query: str):
    response = site.get("/search", params={"q": query})
    assert response.status_code == 200
    assert "Search papers" in response.text


def test_a_raw_nul_and_bad_percent_encoding_in_the_url_are_harmless(site: TestClient):
    for raw in ("/search?q=%00", "/search?q=%ff%fe", "/search?q=%", "/search?q=%ED%A0%80"):
        assert site.get(raw).status_code == 200, raw


def test_a_long_query_is_cut_and_said_so(site: TestClient):
    html = site.get("/search", params={"q": "diffusion " + "x" * 10_000}).text
    assert "we searched for its first 300 characters" in html


def test_queries_are_cleaned_and_rewritten_into_safe_fts5():
    assert clean_query("a\x00b\n\tc") == ("a b c", False)
    assert fts5_query('"graph neural" -survey AND x*') == ('"graph neural" "AND" "x" NOT "survey"')
    assert fts5_query("-only -negatives") == ""
    assert fts5_query('"" ()') == ""
