"""Whole runs of each source against the local stand-in server: what lands, what is recorded."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from newsletter.db import session_scope, upgrade
from newsletter.ingest.service import IngestInputError, run_ingest
from newsletter.models import IngestRun, Paper
from tests.ingest.conftest import API, HF, OAI, RSS, configure
from tests.ingest.server import FIXTURES, FixtureServer, Reply, Seen, fixture


@pytest.fixture
def schema() -> None:
    upgrade()


def papers() -> dict[str, Paper]:
    with session_scope() as session:
        rows = session.scalars(select(Paper)).all()
        for row in rows:
            session.expunge(row)
        return {p.arxiv_id: p for p in rows}


def runs() -> list[IngestRun]:
    with session_scope() as session:
        rows = session.scalars(select(IngestRun).order_by(IngestRun.id)).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def api_pages(seen: Seen) -> Reply:
    if seen.param("id_list") is not None:
        return Reply(fixture("arxiv_api_lookup.xml"))
    return Reply(
        fixture("arxiv_api_page1.xml" if seen.param("start") == "0" else "arxiv_api_page2.xml")
    )


def test_the_api_is_paged_and_a_bad_entry_is_reported(
    server: FixtureServer, db_url: str, monkeypatch: pytest.MonkeyPatch
):
    configure(monkeypatch, ARXIV_PAGE_SIZE="2")
    server.route(API, api_pages)
    result = run_ingest("arxiv", categories=["cs.LG"])
    hits = server.hits(API)
    assert [(h.param("start"), h.param("max_results")) for h in hits] == [("0", "2"), ("2", "2")]
    assert hits[0].param("search_query") == "cat:cs.LG"
    assert (result["fetched"], result["new"], result["problems"]) == (3, 2, 1)
    assert "2611.00006v1: missing abstract" in result["error"]
    assert not result["failed"]
    assert set(papers()) == {"2611.00001", "2611.00003"}


def test_ingesting_the_same_feed_twice_changes_nothing(server: FixtureServer, db_url: str):
    server.route(API, api_pages)
    run_ingest("arxiv")
    before = {k: (p.version, p.title, p.last_seen_at, p.sources) for k, p in papers().items()}
    again = run_ingest("arxiv")
    assert (again["new"], again["updated"]) == (0, 0)
    after = {k: (p.version, p.title, p.last_seen_at, p.sources) for k, p in papers().items()}
    assert after == before


def test_a_re_versioned_paper_updates_in_place(server: FixtureServer, db_url: str):
    server.route(API, api_pages)
    run_ingest("arxiv")
    old = papers()["2611.00003"]
    server.route(API, lambda seen: Reply(fixture("arxiv_api_reversioned.xml")))
    result = run_ingest("arxiv")
    new = papers()["2611.00003"]
    assert (result["new"], result["updated"]) == (1, 1)
    assert (new.id, new.version, new.title) == (
        old.id,
        3,
        "Scaling Laws for Tabular Foundation Models, Revisited",
    )
    assert [a["name"] for a in new.authors] == ["John von Neumann", "Oskar Morgenstern"]
    assert papers()["2611.00004"].withdrawn is True


def test_a_failure_halfway_through_paging_keeps_the_pages_already_read(
    server: FixtureServer, schema: None, monkeypatch: pytest.MonkeyPatch
):
    configure(monkeypatch, ARXIV_PAGE_SIZE="2")
    configure(monkeypatch, HTTP_RETRIES="1")

    def flaky(seen: Seen) -> Reply:
        if seen.param("start") == "0":
            return Reply(fixture("arxiv_api_page1.xml"))
        return Reply(b"unavailable", status=503)

    server.route(API, flaky)
    result = run_ingest("arxiv")
    assert result["failed"] and "HTTP 503" in result["error"]
    assert set(papers()) == {"2611.00001", "2611.00003"}
    assert runs()[-1].error == result["error"]


def test_a_malformed_document_records_an_error_and_damages_nothing(
    server: FixtureServer, schema: None
):
    server.route(API, api_pages)
    run_ingest("arxiv")
    before = {k: (p.version, p.title, p.abstract) for k, p in papers().items()}
    server.route(API, lambda seen: Reply(b"<feed><entry>half a document"))
    result = run_ingest("arxiv")
    assert result["failed"] and "not well-formed XML" in result["error"]
    assert result["fetched"] == 0
    assert {k: (p.version, p.title, p.abstract) for k, p in papers().items()} == before
    assert runs()[-1].error.startswith("arXiv API response: not well-formed XML")


def test_the_listing_feed_fills_its_gaps_from_the_api_in_one_batch(
    server: FixtureServer, db_url: str
):
    server.script(f"{RSS}/cs.LG+cs.AI", Reply(fixture("arxiv_rss_cs.xml")))
    server.route(API, api_pages)
    result = run_ingest("arxiv-rss")
    assert (result["new"], result["problems"]) == (4, 1)
    lookups = server.hits(API)
    assert len(lookups) == 1
    assert sorted(lookups[0].param("id_list").split(",")) == [
        "2611.00001",
        "2611.00002",
        "2611.00003",
        "2611.00004",
    ]
    stored = papers()
    assert stored["2611.00002"].primary_category == "cs.CL"
    assert stored["2611.00001"].authors[0] == {
        "name": "Ada Lovelace",
        "affiliation": "Analytical Engine Lab",
    }
    assert stored["2611.00001"].published_at.isoformat().startswith("2026-11-23T17:59:01")
    assert stored["2611.00001"].sources == ["arxiv-rss"]
    # Not in the API's answer: it still lands, with what the feed said.
    assert stored["2611.00003"].primary_category is None and stored["2611.00003"].version == 2
    assert stored["2611.00004"].withdrawn is True
    # Known papers are not looked up again.
    run_ingest("arxiv-rss")
    assert sorted(server.hits(API)[-1].param("id_list").split(",")) == ["2611.00003"]


def test_an_unchanged_listing_is_fetched_conditionally(server: FixtureServer, schema: None):
    def listing(seen: Seen) -> Reply:
        if seen.headers.get("If-None-Match") == '"day-1"':
            return Reply(status=304)
        return Reply(fixture("arxiv_rss_cs.xml"), headers={"ETag": '"day-1"'})

    server.route(f"{RSS}/cs.LG", listing)
    server.route(API, api_pages)
    run_ingest("arxiv-rss", categories=["cs.LG"])
    before = {k: (p.title, p.last_seen_at) for k, p in papers().items()}
    second = run_ingest("arxiv-rss", categories=["cs.LG"])
    assert second["not_modified"] and second["fetched"] == 0
    assert {k: (p.title, p.last_seen_at) for k, p in papers().items()} == before
    assert len(runs()) == 2


def test_a_broken_listing_stores_nothing_and_is_fetched_again_in_full(
    server: FixtureServer, schema: None
):
    server.script(
        f"{RSS}/cs.LG",
        Reply(fixture("arxiv_rss_truncated.xml"), headers={"ETag": '"broken"'}),
        Reply(fixture("arxiv_rss_empty.xml")),
    )
    result = run_ingest("arxiv-rss", categories=["cs.LG"])
    assert result["failed"] and papers() == {}
    run_ingest("arxiv-rss", categories=["cs.LG"])
    assert "If-None-Match" not in server.hits(f"{RSS}/cs.LG")[1].headers


def test_the_listing_still_lands_when_the_api_is_down(
    server: FixtureServer, schema: None, monkeypatch: pytest.MonkeyPatch
):
    configure(monkeypatch, HTTP_RETRIES="0")
    server.script(f"{RSS}/cs.LG", Reply(fixture("arxiv_rss_cs.xml")))
    server.script(API, Reply(b"", status=503))
    result = run_ingest("arxiv-rss", categories=["cs.LG"])
    assert result["new"] == 4 and not result["failed"]
    assert "could not fill gaps from the arXiv API" in result["error"]


def test_hugging_face_refreshes_upvotes_and_keeps_code_links(server: FixtureServer, db_url: str):
    items = json.loads(fixture("hf_daily.json"))
    server.script(HF, Reply(json.dumps(items).encode(), content_type="application/json"))
    server.route(API, api_pages)
    first = run_ingest("hf", date="2026-11-25")
    assert server.hits(HF)[0].param("date") == "2026-11-25"
    assert (first["new"], first["problems"]) == (2, 1)
    stored = papers()
    assert stored["2611.00001"].upvotes == 42
    assert stored["2611.00001"].code_url == "https://github.com/example/sparse-experts"
    assert stored["2611.00001"].primary_category == "cs.LG"  # filled from the API
    assert stored["2611.00007"].primary_category is None  # the API did not know it

    items[0]["paper"]["upvotes"] = 97
    items[0]["numComments"] = 12
    server.script(HF, Reply(json.dumps(items).encode(), content_type="application/json"))
    second = run_ingest("hf", date="2026-11-25")
    assert second["updated"] == 1
    assert (papers()["2611.00001"].upvotes, papers()["2611.00001"].num_comments) == (97, 12)


def test_a_paper_seen_by_two_sources_is_one_paper_recording_both(
    server: FixtureServer, db_url: str
):
    server.route(API, api_pages)
    server.script(HF, Reply(fixture("hf_daily.json"), content_type="application/json"))
    run_ingest("arxiv")
    run_ingest("hf", fill_gaps=False)
    paper = papers()["2611.00001"]
    assert paper.sources == ["arxiv", "hf"]
    assert r"\mathcal{O}" in paper.title_raw and "collabvoyager" in paper.abstract  # arXiv's
    assert paper.upvotes == 42
    # What the digest cards will show, from Hugging Face alone.
    assert paper.ai_summary == "Sparse experts learn fast."
    assert paper.ai_keywords == ["mixture of experts", "router"]
    assert paper.github_stars == 310


def test_an_abstract_mixing_math_and_percent_signs_is_stored_whole(
    server: FixtureServer, db_url: str
):
    server.script(API, Reply(fixture("arxiv_api_percent.xml")))
    result = run_ingest("arxiv", categories=["cs.CV"])
    assert (result["new"], result["failed"]) == (1, False)
    paper = papers()["2611.00010"]
    assert paper.title == "PatchDrop: O(√(n)) Tokens Are 50% of What Vision Transformers Need"
    assert paper.abstract == (
        "Vision transformers (ViTs) reach 84.1% top-1 accuracy on ImageNet with 4× fewer "
        "FLOPs than ResNet-152. We propose PatchDrop, which discards up to 50% of the tokens "
        "at inference, and show that it keeps 99.3% of the accuracy while cutting latency by "
        "38%. Results hold for Schönfeld's unbalanced split and for ours on COCO. "
        "Code: https://github.com/example/patch_drop."
    )
    assert r"50\%" in paper.title_raw and "by 38%. Results" in paper.abstract_raw
    assert paper.comment == "9 pages; ∼40% of the appendix is new in v1"
    assert paper.authors == [
        {"name": "Ada Lovelace", "affiliation": "Analytical Engine Lab"},
        {"name": "François Chollet", "affiliation": None},
    ]


def test_oai_backfill_follows_resumption_tokens(server: FixtureServer, db_url: str):
    def oai(seen: Seen) -> Reply:
        token = seen.param("resumptionToken")
        return Reply(fixture("oai_page2.xml" if token == "6204812|1001" else "oai_page1.xml"))

    server.route(OAI, oai)
    result = run_ingest("oai", categories=["cs.LG"], days=7)
    first, second = server.hits(OAI)
    assert (first.param("set"), first.param("metadataPrefix")) == ("cs:cs:LG", "arXivRaw")
    assert first.param("from") is not None
    assert second.query == {"verb": ["ListRecords"], "resumptionToken": ["6204812|1001"]}
    assert (result["new"], result["problems"]) == (3, 1)
    assert papers()["2611.00004"].withdrawn is True
    assert papers()["2611.00009"].version == 2


def test_a_long_backfill_stores_as_it_goes_with_the_same_counts(
    server: FixtureServer, db_url: str, monkeypatch: pytest.MonkeyPatch
):
    from newsletter.ingest import service

    monkeypatch.setattr(service, "OAI_FLUSH_RECORDS", 1)  # a transaction per page
    server.route(
        OAI,
        lambda seen: Reply(
            fixture("oai_page2.xml" if seen.param("resumptionToken") else "oai_page1.xml")
        ),
    )
    result = run_ingest("oai", categories=["cs.LG"], days=7)
    assert (result["fetched"], result["new"], result["problems"]) == (4, 3, 1)
    assert (runs()[-1].fetched, runs()[-1].new) == (4, 3)
    again = run_ingest("oai", categories=["cs.LG"], days=7)
    assert (again["new"], again["updated"], again["skipped"]) == (0, 0, 4)


def test_a_backfill_that_breaks_halfway_keeps_the_pages_before(
    server: FixtureServer, db_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Page 1 is in the database before page 2 is even asked for: a crash loses no page."""
    from newsletter.ingest import service

    monkeypatch.setattr(service, "OAI_FLUSH_RECORDS", 1)
    stored_when_page_two_was_asked: list[set[str]] = []

    def oai(seen: Seen) -> Reply:
        if not seen.param("resumptionToken"):
            return Reply(fixture("oai_page1.xml"))
        stored_when_page_two_was_asked.append(set(papers()))
        return Reply(b"<OAI-PMH><ListRecords><record>")  # cut off mid-document

    server.route(OAI, oai)
    result = run_ingest("oai", categories=["cs.LG"], days=7)
    assert stored_when_page_two_was_asked == [{"2611.00001", "2611.00009"}]
    assert result["failed"] and result["error"]
    assert (result["new"], set(papers())) == (2, {"2611.00001", "2611.00009"})
    assert runs()[-1].error == result["error"]


def test_replaying_a_saved_file_needs_no_network(schema: None):
    result = run_ingest("hf", from_file=str(FIXTURES / "hf_daily.json"))
    assert result["new"] == 2


def test_a_malformed_saved_file_is_recorded_as_a_failed_run(schema: None):
    result = run_ingest("hf", from_file=str(FIXTURES / "hf_daily_malformed.json"))
    assert result["failed"] and "not valid JSON" in result["error"]
    assert runs()[-1].error == result["error"]


def test_impossible_requests_are_refused_before_any_work(schema: None):
    with pytest.raises(IngestInputError, match="unknown source"):
        run_ingest("rss-of-my-own")
    with pytest.raises(IngestInputError, match="cannot read"):
        run_ingest("arxiv", from_file="/nonexistent/file.xml")
    with pytest.raises(IngestInputError, match="YYYY-MM-DD"):
        run_ingest("hf", date="25/11/2026")


def test_the_celery_task_runs_an_ingest_and_records_it(schema: None):
    from workers.tasks import ingest_source

    result = ingest_source.apply(
        args=("arxiv-rss", {"from_file": str(FIXTURES / "arxiv_rss_cs.xml")})
    ).get()
    assert result["new"] == 4 and runs()[-1].source == "arxiv-rss"


def test_a_transient_failure_is_marked_for_a_retry_and_a_bad_document_is_not(
    server: FixtureServer, schema: None, monkeypatch: pytest.MonkeyPatch
):
    configure(monkeypatch, HTTP_RETRIES="0")
    server.script(HF, Reply(b"", status=503))
    assert run_ingest("hf", fill_gaps=False)["transient"] is True
    server.script(HF, Reply(b"[{", content_type="application/json"))
    assert run_ingest("hf", fill_gaps=False)["transient"] is False


def test_the_celery_task_retries_a_transient_failure(
    server: FixtureServer, schema: None, monkeypatch: pytest.MonkeyPatch
):
    from celery.exceptions import Retry

    from workers.tasks import ingest_source

    configure(monkeypatch, HTTP_RETRIES="0")
    server.script(HF, Reply(b"", status=503), Reply(fixture("hf_daily.json")))
    with pytest.raises(Retry):
        ingest_source("hf", {"fill_gaps": False})  # called as a worker would, not eagerly
    # The failed attempt is on record before the retry is scheduled.
    assert [("HTTP 503" in (run.error or ""), run.new) for run in runs()] == [(True, 0)]


def test_the_celery_task_does_not_retry_a_malformed_document(schema: None):
    from workers.tasks import ingest_source

    result = ingest_source("hf", {"from_file": str(FIXTURES / "hf_daily_malformed.json")})
    assert result["failed"] and not result["transient"]


def test_a_database_failure_is_still_recorded_as_a_run(schema: None):
    from sqlalchemy import text

    with session_scope() as session:  # a trigger stands in for a broken database
        session.execute(
            text(
                "CREATE TRIGGER no_papers BEFORE INSERT ON papers "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    with pytest.raises(Exception, match="disk full"):
        run_ingest("hf", from_file=str(FIXTURES / "hf_daily.json"))
    run = runs()[-1]
    assert run.error.startswith("could not store the papers") and "disk full" in run.error
    assert papers() == {}
