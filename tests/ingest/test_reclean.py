"""`newsletter papers reclean`: stored papers re-cleaned from their raw text, in batches."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select, text, update

from newsletter.cli import cli
from newsletter.db import session_scope
from newsletter.ingest.normalise import PaperRecord
from newsletter.ingest.reclean import reclean_papers
from newsletter.ingest.store import upsert_papers
from newsletter.models import Paper

CUT_RAW = r"Trained on $10^6$ images, gains 4.2% top-1. Code is released."
CUT = "Trained on 10^6 images, gains 4.2"  # what the old cleaner stored


def stored_before_the_fix(
    arxiv_id: str, *, title: str, title_raw: str, abstract: str, abstract_raw: str
) -> None:
    """Store a paper with the text an earlier cleaner made of its raw text."""
    record = PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        title_raw=title_raw,
        abstract=abstract,
        abstract_raw=abstract_raw,
        authors=[{"name": "Ada Lovelace", "affiliation": None}],
        published_at=datetime(2026, 11, 23, tzinfo=UTC),
        source="arxiv",
    )
    with session_scope() as session:
        upsert_papers(session, [record])
        session.execute(
            update(Paper).where(Paper.arxiv_id == arxiv_id).values(embedding=b"\x00" * 8)
        )


def a_cut_paper(arxiv_id: str = "2611.00001") -> None:
    stored_before_the_fix(
        arxiv_id,
        title="Learning at 𝒪(1/n) Rates",
        title_raw=r"Learning at $\mathcal{O}(1/n)$ Rates",
        abstract=CUT,
        abstract_raw=CUT_RAW,
    )


def a_clean_paper(arxiv_id: str) -> None:
    stored_before_the_fix(
        arxiv_id,
        title="Plain title",
        title_raw="Plain title",
        abstract="Plain abstract.",
        abstract_raw="Plain abstract.",
    )


def paper(arxiv_id: str = "2611.00001") -> Paper:
    with session_scope() as session:
        row = session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        session.expunge(row)
        return row


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["papers", "reclean", *args])


def test_a_paper_cut_at_its_percent_sign_gets_its_sentences_back(db_url: str):
    a_cut_paper()
    a_clean_paper("2611.00002")
    seen_at = paper().last_seen_at
    counts = reclean_papers()
    assert (counts.checked, counts.changed, counts.titles, counts.abstracts) == (2, 1, 1, 1)
    fixed = paper()
    assert fixed.abstract == "Trained on 10^6 images, gains 4.2% top-1. Code is released."
    assert fixed.title == "Learning at O(1/n) Rates"
    assert fixed.embedding is None  # it described the cut text
    assert fixed.last_seen_at == seen_at  # re-cleaning is not a sighting
    assert paper("2611.00002").embedding is not None  # an unchanged paper keeps its vector


def test_a_second_run_finds_nothing_left_to_change(db_url: str):
    a_cut_paper()
    reclean_papers()
    assert reclean_papers().changed == 0


def test_a_dry_run_counts_without_writing(db_url: str):
    a_cut_paper()
    assert reclean_papers(dry_run=True).changed == 1
    assert paper().abstract == CUT


def test_papers_are_read_in_batches_and_each_batch_reports_progress(db_url: str):
    for n in range(5):
        a_cut_paper(f"2611.0000{n}")
    done: list[int] = []
    counts = reclean_papers(batch_size=2, progress=done.append)
    assert done == [2, 2, 1]
    assert counts.changed == 5


def test_a_paper_without_raw_text_is_left_as_it_is_and_counted(db_url: str):
    a_cut_paper()
    with session_scope() as session:
        session.execute(update(Paper).values(title_raw="", abstract_raw=""))
    counts = reclean_papers()
    assert (counts.changed, counts.without_raw) == (0, 1)
    assert paper().abstract == CUT


def test_the_command_reports_what_changed_and_names_the_papers(db_url: str):
    a_cut_paper()
    dry = run("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "reclean: 1 papers checked, would change 1 (titles: 1, abstracts: 1)",
        "  2611.00001 (title, abstract)",
    ]
    assert paper().abstract == CUT
    done = run()
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("reclean: 1 papers checked, changed 1 ")
    assert run().stdout.startswith("reclean: 1 papers checked, changed 0 ")


def test_a_database_error_is_one_line_and_says_a_rerun_finishes(sqlite_url: str):
    a_cut_paper()
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER frozen BEFORE UPDATE ON papers "
                "BEGIN SELECT RAISE(ABORT, 'papers are frozen'); END"
            )
        )
    engine.dispose()
    result = run()
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr == (
        "Error: reclean stopped: papers are frozen. "
        "Papers already re-cleaned are kept; run it again to finish.\n"
    )
    assert "Traceback" not in result.output
