"""The default ranker's quality on the judged set must not slip unnoticed.

bench/eval_ranking.py is the full evaluation (cross-validation, anchors, the README
table); this runs its data through the shipped default weights, with and without the
committed MiniLM vectors (read from bench/data, so no torch is needed), and fails when
a change to the ranking costs more than a little nDCG@10. The floors sit 0.02 under the
figures measured when they were set on the 40 profiles (0.791 default install, 0.831
with MiniLM, 0.733 for tf-idf cosine); raise them when the ranking improves.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import eval_methods  # noqa: E402
import eval_ranking  # noqa: E402

from newsletter.ranking.score import RankWeights, fit_edition  # noqa: E402

DEFAULT_FLOOR = 0.771
MINILM_FLOOR = 0.811


@pytest.fixture(scope="module")
def judged():
    return eval_ranking.load()


def test_the_default_install_ranks_the_judged_set_above_its_floor_and_above_tfidf(judged):
    model, profiles = judged
    ndcg, _ = eval_ranking.blend_scores(model, profiles, RankWeights(), None)
    tfidf = eval_ranking.fixed("tf-idf", eval_methods.tfidf_cosine, model, profiles).ndcg
    assert ndcg.mean() >= DEFAULT_FLOOR
    assert ndcg.mean() >= tfidf.mean() + 0.05


def test_the_blend_with_stored_minilm_vectors_ranks_above_its_floor(judged):
    model, profiles = judged
    stored = eval_ranking.load_vectors(model, profiles)
    assert not isinstance(stored, str), stored
    dense, _ = stored
    dense_model = fit_edition(model.papers, vectors=dense.papers)
    ndcg, _ = eval_ranking.blend_scores(dense_model, profiles, RankWeights(), dense)
    default, _ = eval_ranking.blend_scores(model, profiles, RankWeights(), None)
    assert ndcg.mean() >= MINILM_FLOOR
    assert ndcg.mean() > default.mean()
    # Where tf-idf and MiniLM disagree the dense share shrinks: no reader loses much.
    assert (ndcg - default).min() >= -0.03


def test_ndcg_is_one_for_the_ideal_order_and_zero_for_nothing_relevant():
    judged = {"a": 2, "b": 1}
    assert eval_methods.ndcg(["a", "b", "c"], judged) == pytest.approx(1.0)
    assert eval_methods.ndcg(["c", "d"], judged) == 0.0
    assert 0 < eval_methods.ndcg(["b", "a"], judged) < 1
    assert np.isclose(eval_methods.precision(["a", "c", "d", "e", "f"], judged), 0.2)
