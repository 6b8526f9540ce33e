"""`newsletter rank`: offline ranking from JSON files, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from tests.ranking.factories import edition


def write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def papers_file(tmp_path: Path) -> Path:
    items = [
        {
            "arxiv_id": p.arxiv_id,
            "title": p.title,
            "abstract": p.abstract,
            "categories": p.categories,
            "upvotes": i,
            "published_at": "2026-11-25T00:00:00Z",
        }
        for i, p in enumerate(edition())
    ]
    items[0].pop("categories")
    items[1].pop("upvotes")
    items[2].pop("published_at")
    return write(tmp_path / "papers.json", items)


def run(*args: str):
    return CliRunner().invoke(cli, ["rank", *args])


def test_rank_prints_the_top_k_as_json_best_first(papers_file, tmp_path):
    profile = write(
        tmp_path / "profile.json",
        {
            "keywords": ["test-time adaptation"],
            "categories": ["cs.LG"],
            "description": "models that adapt at deployment",
            "seed_papers": ["tta.1"],
            "liked": ["tta.2"],
            "hidden": ["tta.3"],
        },
    )
    result = run("--papers", str(papers_file), "--profile", str(profile), "--top", "3", "--json")
    assert result.exit_code == 0, result.output
    picks = json.loads(result.output)
    assert [set(p) for p in picks] == [{"arxiv_id", "score", "reason"}] * 3
    assert picks[0] == {
        "arxiv_id": "tta.4",
        "score": picks[0]["score"],
        "reason": "Your keyword 'test-time adaptation' in the title; in your category cs.LG",
    }
    scores = [p["score"] for p in picks]
    assert scores[0] == max(scores)
    assert not {"tta.1", "tta.2", "tta.3"} & {p["arxiv_id"] for p in picks}


def test_an_empty_profile_ranks_by_trending(papers_file, tmp_path):
    profile = write(tmp_path / "profile.json", {})
    result = run("--papers", str(papers_file), "--profile", str(profile), "--top", "2", "--json")
    assert [p["arxiv_id"] for p in json.loads(result.output)] == ["tta.4", "tta.3"]


def test_without_json_rank_prints_a_readable_list(papers_file, tmp_path):
    profile = write(tmp_path / "profile.json", {"keywords": ["diffusion models"]})
    result = run("--papers", str(papers_file), "--profile", str(profile), "--top", "2")
    assert result.exit_code == 0
    assert "  1. " in result.output and "Your keyword 'diffusion models'" in result.output


@pytest.mark.parametrize(
    ("papers", "message"),
    [
        ("[{", "papers.json: not valid JSON (line 1, column 3"),
        ({"a": 1}, "papers.json: expected a JSON array of papers, found dict"),
        ([], "papers.json: no papers to rank"),
        (["x"], "papers.json: paper 1: must be an object"),
        ([{"title": "t", "abstract": "a"}], "papers.json: paper 1: missing 'arxiv_id'"),
        ([{"arxiv_id": "1", "abstract": "a"}], "paper 1: missing 'title'"),
        ([{"arxiv_id": "1", "title": "t"}], "paper 1: missing 'abstract'"),
        ([{"arxiv_id": 5, "title": "t", "abstract": "a"}], "'arxiv_id' must be a string"),
        ([{"arxiv_id": "1", "title": "t", "abstract": "a", "upvotes": -3}], "'upvotes' must be"),
        ([{"arxiv_id": "1", "title": "t", "abstract": "a", "upvotes": "9"}], "'upvotes' must be"),
        (
            [{"arxiv_id": "1", "title": "t", "abstract": "a", "published_at": "yesterday"}],
            "'published_at' 'yesterday' is not an ISO 8601",
        ),
        (
            [{"arxiv_id": "1", "title": "t", "abstract": "a", "categories": "cs.LG"}],
            "'categories' must be a list of strings",
        ),
        (
            [{"arxiv_id": "1", "title": "t", "abstract": "a"}] * 2,
            "paper 2: arxiv_id '1' appears twice",
        ),
    ],
)
def test_a_bad_papers_file_gets_one_clear_line(tmp_path, papers, message):
    papers_file = write(tmp_path / "papers.json", papers)
    profile = write(tmp_path / "profile.json", {})
    result = run("--papers", str(papers_file), "--profile", str(profile), "--json")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("", "profile.json: not valid JSON"),
        ([], "profile.json: expected a JSON object, found list"),
        ({"keyword": ["x"]}, "unknown field 'keyword'"),
        ({"keywords": "graphs"}, "'keywords' must be a list of strings"),
        ({"keywords": [1]}, "'keywords' must be a list of strings"),
        ({"description": ["x"]}, "'description' must be a string"),
        ({"seed_papers": ["nope.1"]}, "seed_papers names 'nope.1', which is not in the papers"),
        ({"hidden": ["nope.2"]}, "hidden names 'nope.2'"),
    ],
)
def test_a_bad_profile_file_gets_one_clear_line(papers_file, tmp_path, profile, message):
    profile_file = write(tmp_path / "profile.json", profile)
    result = run("--papers", str(papers_file), "--profile", str(profile_file), "--json")
    assert result.exit_code != 0
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_file_is_named(tmp_path, papers_file):
    result = run("--papers", str(papers_file), "--profile", str(tmp_path / "none.json"))
    assert result.exit_code != 0
    assert "none.json: no such file" in result.output


def test_top_must_be_positive(papers_file, tmp_path):
    profile = write(tmp_path / "profile.json", {})
    result = run("--papers", str(papers_file), "--profile", str(profile), "--top", "0")
    assert result.exit_code != 0


def test_with_embeddings_on_rank_embeds_the_files_itself(tmp_path, monkeypatch):
    """No database offline: the papers and the profile's texts are embedded in-process."""
    from newsletter.config import get_settings
    from tests.ranking.fake_embedder import calls
    from tests.ranking.test_dense import OOD, papers

    items = [{"arxiv_id": p.arxiv_id, "title": p.title, "abstract": p.abstract} for p in papers()]
    papers_path = write(tmp_path / "papers.json", items)
    profile = write(tmp_path / "profile.json", {"keywords": [OOD]})
    args = ("--papers", str(papers_path), "--profile", str(profile), "--top", "3", "--json")
    plain = [p["arxiv_id"] for p in json.loads(run(*args).output)]
    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", "tests.ranking.fake_embedder:make")
    get_settings.cache_clear()
    calls.clear()
    result = run(*args)
    assert result.exit_code == 0, result.output
    mixed = [p["arxiv_id"] for p in json.loads(result.output)]
    assert calls == [len(items), 1]  # every paper once, the keyword once
    assert "nov.1" not in plain and mixed[2] == "nov.1"


def test_rank_names_a_missing_embeddings_model(papers_file, tmp_path, monkeypatch):
    from newsletter.config import get_settings

    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", "no_such_module_here:make")
    get_settings.cache_clear()
    profile = write(tmp_path / "profile.json", {"keywords": ["x"]})
    result = run("--papers", str(papers_file), "--profile", str(profile))
    assert result.exit_code == 1
    assert "NEWSLETTER_EMBEDDINGS" in result.output and "Traceback" not in result.output
