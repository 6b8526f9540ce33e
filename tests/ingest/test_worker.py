"""The ingest task on a real Celery worker over Redis, storing into PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import IngestRun, Paper
from tests.ingest.conftest import API, HF
from tests.ingest.server import FixtureServer, Reply, fixture

pytestmark = pytest.mark.integration


def test_a_real_worker_ingests_what_the_ingest_queue_asks_for(server: FixtureServer, start_worker):
    from workers.tasks import ingest_source

    server.script(HF, Reply(fixture("hf_daily.json"), content_type="application/json"))
    server.script(API, Reply(fixture("arxiv_api_lookup.xml")))
    start_worker(queues="ingest", concurrency=1)

    ingest_source.delay("hf", {"date": "2026-11-25"})

    deadline = time.monotonic() + 60
    run = None
    while time.monotonic() < deadline and run is None:
        with session_scope() as session:
            run = session.scalars(select(IngestRun)).first()
        time.sleep(0.2)
    assert run is not None, "the worker recorded no run"
    assert (run.source, run.new, run.skipped) == ("hf", 2, 1)
    with session_scope() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.00001")).one()
        assert (paper.upvotes, paper.primary_category) == (42, "cs.LG")
    assert server.hits(HF)[0].headers["User-Agent"].startswith("paper-newsletter/")


def test_with_embeddings_on_new_papers_get_their_vectors_after_ingest(
    server: FixtureServer, start_worker, monkeypatch
):
    """The ingest task queues embed_missing; the worker stores a vector per new paper."""
    from newsletter.config import get_settings
    from workers.app import app, reconfigure
    from workers.tasks import ingest_source

    fake = "tests.ranking.fake_embedder:make"
    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", fake)
    get_settings.cache_clear()
    reconfigure(app)
    server.script(HF, Reply(fixture("hf_daily.json"), content_type="application/json"))
    server.script(API, Reply(fixture("arxiv_api_lookup.xml")))
    start_worker(queues="ingest", concurrency=1, env={"NEWSLETTER_EMBEDDINGS": fake})

    ingest_source.delay("hf", {"date": "2026-11-25"})

    deadline = time.monotonic() + 60
    models: list[str | None] = []
    while time.monotonic() < deadline:
        with session_scope() as session:
            models = list(session.scalars(select(Paper.embedding_model)))
        if models and all(models):
            break
        time.sleep(0.2)
    assert models == ["fake-concepts-v1"] * 2, "the new papers were not embedded"
