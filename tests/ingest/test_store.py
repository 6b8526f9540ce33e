"""The bulk upsert, on SQLite and PostgreSQL: idempotent, version-aware, source-merging."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.ingest.normalise import PaperRecord
from newsletter.ingest.runs import store_run
from newsletter.ingest.store import upsert_papers
from newsletter.models import IngestRun, Paper


def record(arxiv_id: str = "2611.00001", **fields) -> PaperRecord:
    base = {
        "arxiv_id": arxiv_id,
        "version": 1,
        "title": "Original title",
        "title_raw": "Original  title",
        "abstract": "Original abstract.",
        "authors": [{"name": "Ada Lovelace", "affiliation": "Lab"}],
        "categories": ["cs.LG"],
        "primary_category": "cs.LG",
        "published_at": datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
        "source": "arxiv",
    }
    base.update(fields)
    return PaperRecord(**base)


def upsert(*records: PaperRecord, batch_size: int = 500):
    with session_scope() as session:
        return upsert_papers(session, list(records), batch_size=batch_size)


def stored(arxiv_id: str = "2611.00001") -> Paper:
    with session_scope() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        session.expunge(paper)
        return paper


def snapshot(paper: Paper) -> dict:
    return {c.name: getattr(paper, c.name) for c in Paper.__table__.columns}


def test_the_same_records_twice_change_nothing(db_url: str):
    records = [record(), record("2611.00002", title="Other")]
    assert dataclasses.astuple(upsert(*records)) == (2, 0, 0)
    before = snapshot(stored())
    assert dataclasses.astuple(upsert(*records)) == (0, 0, 2)
    assert snapshot(stored()) == before


def test_a_new_version_updates_the_row_in_place(db_url: str):
    upsert(record())
    row_id = stored().id
    counts = upsert(record(version=2, title="Revised title", abstract="Revised abstract."))
    paper = stored()
    assert (counts.updated, paper.id, paper.version) == (1, row_id, 2)
    assert (paper.title, paper.abstract) == ("Revised title", "Revised abstract.")


def test_an_older_version_never_replaces_the_text(db_url: str):
    upsert(record(version=3, title="Version three"))
    upsert(record(version=1, title="Version one", categories=["cs.LG", "cs.AI"]))
    paper = stored()
    assert (paper.version, paper.title) == (3, "Version three")


def test_upvotes_and_comments_refresh_and_a_second_source_is_recorded(db_url: str):
    upsert(record())
    hf = record(
        version=0,
        title="HF's title",
        source="hf",
        upvotes=10,
        num_comments=2,
        categories=[],
        primary_category=None,
        code_url="https://github.com/x/y",
    )
    upsert(hf)
    upsert(dataclasses.replace(hf, upvotes=25, num_comments=4))
    paper = stored()
    assert (paper.upvotes, paper.num_comments) == (25, 4)
    assert paper.sources == ["arxiv", "hf"]
    assert paper.title == "Original title"  # an unversioned source never rewrites text
    assert paper.primary_category == "cs.LG" and paper.categories == ["cs.LG"]
    assert paper.code_url == "https://github.com/x/y"
    # A later arXiv sighting (no counts) leaves the trending counts alone.
    upsert(record())
    assert stored().upvotes == 25


def test_the_card_fields_from_hugging_face_survive_sightings_without_them(db_url: str):
    hf = record(
        version=0,
        source="hf",
        ai_summary="Sparse experts learn fast.",
        ai_keywords=["router"],
        github_stars=310,
    )
    upsert(hf)
    upsert(record())  # arXiv knows none of them
    upsert(dataclasses.replace(hf, ai_summary=None, ai_keywords=[], github_stars=None))
    paper = stored()
    assert (paper.ai_summary, paper.ai_keywords, paper.github_stars) == (
        "Sparse experts learn fast.",
        ["router"],
        310,
    )
    upsert(dataclasses.replace(hf, github_stars=450, ai_keywords=["router", "experts"]))
    assert (stored().github_stars, stored().ai_keywords) == (450, ["router", "experts"])


def test_a_paper_first_seen_on_hugging_face_is_completed_by_arxiv(db_url: str):
    upsert(
        record(
            version=0,
            title="HF title",
            source="hf",
            upvotes=3,
            categories=[],
            primary_category=None,
        )
    )
    upsert(record(version=2, title="arXiv title"))
    paper = stored()
    assert (paper.version, paper.title, paper.primary_category) == (2, "arXiv title", "cs.LG")
    assert paper.upvotes == 3 and paper.sources == ["hf", "arxiv"]


def test_a_withdrawal_is_not_undone_by_another_source_of_the_same_version(db_url: str):
    upsert(record(version=3, withdrawn=True))
    upsert(record(version=3, withdrawn=False, source="arxiv-rss"))
    assert stored().withdrawn is True
    upsert(record(version=4, withdrawn=False))
    assert stored().withdrawn is False


def test_published_at_keeps_the_first_submission_date(db_url: str):
    upsert(record(published_at=datetime(2026, 11, 25, 5, tzinfo=UTC), source="arxiv-rss"))
    upsert(record(published_at=datetime(2026, 11, 23, 17, tzinfo=UTC)))
    upsert(record(published_at=datetime(2026, 11, 26, 5, tzinfo=UTC), source="arxiv-rss"))
    assert stored().published_at.replace(tzinfo=UTC) == datetime(2026, 11, 23, 17, tzinfo=UTC)


def test_duplicates_in_one_batch_apply_in_order(db_url: str):
    counts = upsert(record(), record(version=2, title="Second"), record(version=1, title="Third"))
    paper = stored()
    assert (paper.version, paper.title) == (2, "Second")
    assert counts.new == 1


def test_many_records_go_in_batches(db_url: str):
    records = [record(f"2611.{i:05d}", title=f"Paper {i}") for i in range(1, 1202)]
    assert upsert(*records, batch_size=500).new == 1201
    assert upsert(*records, batch_size=500).unchanged == 1201
    with session_scope() as session:
        assert len(session.scalars(select(Paper.id)).all()) == 1201


def test_a_run_records_counts_and_names_the_bad_entries(db_url: str):
    with session_scope() as session:
        store_run(
            session, "arxiv", [record()], problems=[{"id": "2611.9", "error": "missing title"}]
        )
    with session_scope() as session:
        run = session.scalars(select(IngestRun)).one()
        assert (run.fetched, run.new, run.skipped) == (2, 1, 1)
        assert run.problems == [{"id": "2611.9", "error": "missing title"}]
        assert run.error == "1 entries skipped: 2611.9: missing title"


def test_a_nul_byte_in_a_title_does_not_sink_the_batch(db_url: str):
    assert upsert(record(title="Bad\x00title", abstract="A\x00b")).new == 1
    assert (stored().title, stored().abstract) == ("Badtitle", "Ab")
