"""Each signal module returns one value per (reader, paper) of a chunk, in float32.

float32 throughout matters beyond memory: one float64 term would change how the others
round when rank_chunk adds them up, and with it the order of close papers.
"""

from __future__ import annotations

import numpy as np
import pytest

from newsletter.ranking.dense import DenseVectors
from newsletter.ranking.diversity import diversify
from newsletter.ranking.profile import Profile
from newsletter.ranking.score import RankWeights, fit_edition
from newsletter.ranking.signals import Cells, ReaderRows, boosts, feedback, penalties, relevance
from newsletter.ranking.signals.references import mix_dense_refs, reference_papers
from tests.ranking.factories import edition
from tests.ranking.fake_embedder import FakeEmbedder

W = RankWeights(min_feedback=4)
LIBRARY = {"old.1": "Graph neural networks for molecules", "old.2": "Diffusion samplers"}
PROFILES = [
    Profile(keywords=["diffusion models"], negative_keywords=["graph"], categories=["cs.CV"]),
    Profile(description="an agent learns a policy from reward", seed_papers=["rl.1", "old.1"]),
    Profile(
        liked=["llm.1", "llm.2"],
        clicked=["llm.3"],
        hidden=["graph.2", "old.2"],
        already_sent=["tta.1", "graph.3"],
    ),
    Profile(categories=["cs"]),
]


@pytest.fixture
def model():
    return fit_edition(edition())


@pytest.fixture
def refs(model):
    return reference_papers(model, PROFILES, LIBRARY)


def assert_chunk_array(values, model) -> None:
    assert np.asarray(values).shape == (len(PROFILES), len(model))


def test_relevance_signals_have_one_value_per_reader_and_paper(model, refs):
    excluded = penalties.excluded(model, PROFILES)
    text = relevance.words(model, PROFILES, W, None, excluded)
    seeds, liked = relevance.papers(refs, PROFILES, W, excluded)
    combined = relevance.combine(text, seeds, liked)
    for values in (text, seeds.toarray(), liked.toarray(), combined.score):
        assert_chunk_array(values, model)
        assert values.dtype == np.float32


def test_words_mixed_with_stored_vectors_keep_their_shape(model):
    fake = FakeEmbedder()
    vectors = dict(zip(model.index, fake.encode([p.text for p in model.papers]), strict=True))
    dense_model = fit_edition(model.papers, vectors=vectors)
    texts = [t for p in PROFILES for t in p.texts]
    stored = DenseVectors(texts=dict(zip(texts, fake.encode(texts), strict=True)))
    table = relevance.text_table(dense_model, PROFILES, stored)
    refs = reference_papers(dense_model, PROFILES, LIBRARY)
    mix_dense_refs(dense_model, refs, stored, W.dense_paper_weight)
    excluded = penalties.excluded(dense_model, PROFILES)
    text = relevance.words(dense_model, PROFILES, W, table, excluded)
    assert_chunk_array(text, dense_model)
    assert text.dtype == np.float32


def test_feedback_scores_only_readers_with_enough_labels(model, refs):
    scores, has_model = feedback.learned(model, PROFILES, refs, W)
    assert_chunk_array(scores, model)
    assert scores.dtype == np.float32
    assert has_model.tolist() == [False, False, True, False]
    assert not scores[~has_model].any()


def test_boosts_have_one_value_per_reader_and_paper(model, refs):
    excluded = penalties.excluded(model, PROFILES)
    text = relevance.words(model, PROFILES, W, None, excluded)
    relevant = relevance.combine(text, *relevance.papers(refs, PROFILES, W, excluded))
    asked = boosts.asked(model, PROFILES)
    for values in (
        boosts.popularity(model, relevant.score, relevant.silent, W),
        boosts.phrases(asked, relevant.text, relevant.text_top, W),
        boosts.categories(model, asked),
    ):
        assert_chunk_array(values, model)
        assert values.dtype == np.float32


def test_penalties_have_one_value_per_reader_and_paper(model, refs):
    asked = boosts.asked(model, PROFILES)
    in_paper, in_title = penalties.negative_keywords(asked)
    for values in (penalties.hidden(refs, PROFILES), in_paper, in_title):
        assert_chunk_array(values, model)
        assert values.dtype == np.float32
    excluded = penalties.excluded(model, PROFILES)
    assert_chunk_array(excluded, model)
    cells = set(zip(*(c.tolist() for c in excluded.where), strict=True))
    known = {
        1: ["rl.1"],  # a seed; old.1 is not a candidate
        2: ["tta.1", "graph.3", "graph.2", "llm.1", "llm.2", "llm.3"],
    }
    assert cells == {(reader, model.index[a]) for reader, ids in known.items() for a in ids}


def test_diversity_picks_k_distinct_papers_per_reader(model):
    score = np.random.default_rng(0).random((len(PROFILES), len(model)), dtype=np.float32)
    chosen = diversify(model, score, 3, W)
    assert chosen.shape == (len(PROFILES), 3)
    assert all(len(set(row)) == 3 for row in chosen.tolist())


def test_a_sparse_term_changes_only_its_cells_of_the_score_in_place():
    score = np.ones((2, 3), dtype=np.float32)
    same = score
    score += Cells(np.array([0]), np.array([2]), np.array([0.5], dtype=np.float32), (2, 3))
    score -= 0.5 * ReaderRows(np.array([-1, 0]), np.full((1, 3), 2.0, dtype=np.float32))
    assert score is same
    assert score.tolist() == [[1.0, 1.0, 1.5], [0.0, 0.0, 0.0]]


def test_a_sparse_term_refuses_to_make_a_new_array():
    cells = Cells(np.array([0]), np.array([0]), np.ones(1, dtype=np.float32), (1, 1))
    with pytest.raises(TypeError):
        np.ones((1, 1), dtype=np.float32) + cells
