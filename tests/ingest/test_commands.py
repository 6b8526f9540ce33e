"""`newsletter ingest ...` and `newsletter papers --json`: the forms other tools rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from newsletter.cli import cli
from tests.ingest.conftest import API
from tests.ingest.server import FIXTURES, FixtureServer, Reply, fixture

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_ingest_sample_prints_a_one_line_summary():
    result = run("ingest", "sample")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sample: fetched 84, new 84, updated 0, skipped 0 (run 1)")


def test_a_replayed_feed_is_stored_and_its_bad_entries_named_on_stderr():
    result = run("ingest", "arxiv-rss", "--from-file", str(FIXTURES / "arxiv_rss_cs.xml"))
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "arxiv-rss: fetched 6, new 4, updated 0, skipped 2, 1 bad entries (run 1)"
    )
    assert "skipped 2611.00005v1: missing title" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hf", "--from-file", str(FIXTURES / "hf_daily_malformed.json")], "not valid JSON"),
        (["arxiv", "--from-file", str(FIXTURES / "arxiv_rss_truncated.xml")], "not well-formed"),
        (["arxiv", "--from-file", "/nonexistent.xml"], "cannot read /nonexistent.xml"),
        (
            [
                "oai",
                "--category",
                "cs.LG",
                "--days",
                "3",
                "--from-file",
                str(FIXTURES / "oai_bad_token.xml"),
            ],
            "badResumptionToken",
        ),
        (["hf", "--date", "2026-13-01"], "not a date"),
    ],
)
def test_a_bad_file_or_option_gives_a_clear_one_line_error(args: list[str], message: str):
    result = run("ingest", *args)
    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.output


def test_an_oai_backfill_needs_its_category_and_days():
    assert run("ingest", "oai", "--category", "cs.LG").exit_code == 2


def test_ingest_arxiv_fetches_the_given_categories(server: FixtureServer):
    server.script(API, Reply(fixture("arxiv_api_page1.xml")))
    result = run(
        "ingest", "arxiv", "--category", "cs.CL", "--category", "cs.LG", "--max-results", "2"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("arxiv: fetched 2, new 2")
    assert server.hits(API)[0].param("search_query") == "cat:cs.CL OR cat:cs.LG"


def test_papers_json_lists_every_paper_with_the_agreed_keys(db_url: str):
    # Ingested before the cut-off, so only published_at decides what --since keeps.
    with time_machine.travel(datetime(2026, 11, 20, tzinfo=UTC)):
        run("ingest", "arxiv", "--from-file", str(FIXTURES / "arxiv_api_page1.xml"))
        run("ingest", "hf", "--from-file", str(FIXTURES / "hf_daily.json"))
    result = run("papers", "--json", "--since", "2026-11-23")
    assert result.exit_code == 0, result.output
    rows = {row["arxiv_id"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"2611.00001", "2611.00007"}  # 2611.00003 was published before
    paper = rows["2611.00001"]
    for key in ("version", "title", "abstract", "categories", "abs_url", "pdf_url", "upvotes"):
        assert key in paper
    assert paper["authors"] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert paper["primary_category"] == "cs.LG"
    assert paper["published_at"] == "2026-11-23T17:59:01+00:00"
    assert paper["upvotes"] == 42 and paper["sources"] == ["arxiv", "hf"]
    assert paper["ai_summary"] == "Sparse experts learn fast." and paper["github_stars"] == 310
    assert paper["affiliations"][0] == "Analytical Engine Lab"


def test_papers_without_json_prints_one_line_per_paper():
    run("ingest", "sample")
    result = run("papers", "--limit", "3")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3


def test_papers_refuses_a_date_it_cannot_read():
    result = run("papers", "--json", "--since", "last tuesday")
    assert result.exit_code == 2 and "not a date" in result.stderr


def test_the_installed_command_runs_end_to_end(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsletter.cli",
            "ingest",
            "hf",
            "--from-file",
            str(FIXTURES / "hf_daily.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("hf: fetched 3, new 2, updated 0, skipped 1")
    listed = run("papers", "--json")
    assert [p["arxiv_id"] for p in json.loads(listed.stdout)] == ["2611.00007", "2611.00001"]
