"""Stored sentence embeddings as a second relevance signal beside tf-idf."""

from __future__ import annotations

import numpy as np
import pytest

from newsletter.ranking.dense import DenseVectors, agreed_share, scaled_similarity
from newsletter.ranking.profile import Profile
from newsletter.ranking.score import RankWeights, dense_ready, fit_edition, rank
from tests.ranking.factories import edition, paper
from tests.ranking.fake_embedder import FakeEmbedder

OOD = "out-of-distribution detection"


def papers():
    """The usual 20 papers, two on OOD detection, one on it in other words, one decoy."""
    return [
        *edition(),
        paper("ood.1", "Out-of-distribution detection with energy scores",
              "Energy scores flag inputs unlike the training set."),
        paper("ood.2", "Benchmarking out-of-distribution detection",
              "A benchmark of detectors for inputs far from the training data."),
        paper("nov.1", "Novelty and open-set recognition for image classifiers",
              "Classifiers should abstain on unknown classes; we score novelty."),
        paper("det.1", "Object detection in aerial images",
              "Detection of small vehicles from drones with a faster detector head."),
    ]  # fmt: skip


def vectors_of(items) -> dict[str, np.ndarray]:
    fake = FakeEmbedder()
    return dict(zip([p.arxiv_id for p in items], fake.encode([p.text for p in items]), strict=True))


def dense_for(*texts: str, papers_outside=()) -> DenseVectors:
    fake = FakeEmbedder()
    return DenseVectors(
        papers=vectors_of(papers_outside),
        texts=dict(zip(texts, fake.encode(list(texts)), strict=True)) if texts else {},
    )


def ids(picks) -> list[str]:
    return [p.arxiv_id for p in picks]


def test_a_paper_in_other_words_rises_once_papers_and_keywords_have_vectors():
    items = papers()
    reader = Profile(keywords=[OOD])
    plain = ids(rank(fit_edition(items), [reader], 4)[0])
    # tf-idf alone sees only the shared word "detection": the decoy, not the synonym.
    assert set(plain[:3]) == {"ood.1", "ood.2", "det.1"}
    assert "nov.1" not in plain

    model = fit_edition(items, vectors=vectors_of(items))
    mixed = ids(rank(model, [reader], 4, dense=dense_for(OOD))[0])
    assert set(mixed[:2]) == {"ood.1", "ood.2"}
    assert mixed[2] == "nov.1"  # the synonym now beats the decoy
    # With little say, the dense signal still brings the synonym in, below the decoy.
    weak = RankWeights(dense_text_weight=0.25, dense_agreement=0.0)
    assert ids(rank(model, [reader], 4, weights=weak, dense=dense_for(OOD))[0])[2:] == [
        "det.1",
        "nov.1",
    ]


def test_without_candidate_vectors_reader_vectors_change_nothing():
    items = papers()
    model = fit_edition(items)
    readers = [Profile(keywords=[OOD]), Profile(description="novelty of classifiers")]
    plain = rank(model, readers, 5)
    with_texts = rank(model, readers, 5, dense=dense_for(OOD, "novelty of classifiers"))
    assert [ids(p) for p in plain] == [ids(p) for p in with_texts]


def test_a_dense_weight_of_zero_is_tf_idf_alone():
    items = papers()
    reader = Profile(keywords=[OOD])
    plain = rank(fit_edition(items), [reader], 6)[0]
    off = RankWeights(dense_text_weight=0.0, dense_paper_weight=0.0)
    model = fit_edition(items, vectors=vectors_of(items))
    zero = rank(model, [reader], 6, weights=off, dense=dense_for(OOD))[0]
    assert ids(zero) == ids(plain)
    assert [round(p.score, 6) for p in zero] == [round(p.score, 6) for p in plain]


def test_a_reader_text_without_a_vector_ranks_by_tf_idf_alone():
    items = papers()
    reader = Profile(keywords=[OOD])
    plain = rank(fit_edition(items), [reader], 6)[0]
    model = fit_edition(items, vectors=vectors_of(items))
    missing = rank(model, [reader], 6, dense=dense_for("something else entirely"))[0]
    assert ids(missing) == ids(plain)


def test_a_seed_paper_from_the_library_pulls_papers_in_other_words():
    items = papers()
    seed = paper("2401.1", "Spotting anomalous inputs", "Inputs unlike any class are anomalous.")
    reader = Profile(seed_papers=["2401.1"])
    library = {"2401.1": seed.text}
    model = fit_edition(items, vectors=vectors_of(items))
    plain = ids(rank(model, [reader], 3, library=library)[0])
    mixed = ids(
        rank(model, [reader], 3, library=library, dense=dense_for(papers_outside=[seed]))[0]
    )
    assert "nov.1" not in plain
    assert "nov.1" in mixed
    assert set(mixed) <= {"nov.1", "ood.1", "ood.2"}


def test_many_readers_at_once_equal_each_alone_with_vectors():
    items = papers()
    model = fit_edition(items, vectors=vectors_of(items))
    readers = [
        Profile(keywords=[OOD]),
        Profile(keywords=["graph neural networks", OOD], categories=["cs.LG"]),
        Profile(description="novelty of classifiers"),
        Profile(),
    ]
    dense = dense_for(OOD, "graph neural networks", "novelty of classifiers")
    together = rank(model, readers, 5, dense=dense, chunk_size=2)
    alone = [rank(model, [r], 5, dense=dense)[0] for r in readers]
    assert [ids(p) for p in together] == [ids(p) for p in alone]


def test_dense_similarity_is_rescaled_above_each_rows_own_baseline():
    matrix = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    mean = matrix.mean(axis=0)
    queries = np.array([[1, 0], [np.nan, np.nan]], dtype=np.float32)
    scaled = scaled_similarity(queries, matrix, mean)
    assert scaled[0].max() == 1.0
    assert scaled[0, 2] == 0.0  # below the baseline: clipped, not negative
    assert np.isnan(scaled[1]).all()  # no vector: the caller falls back to tf-idf


def test_a_candidate_without_a_vector_keeps_its_tf_idf_score():
    """Embedding lags behind ingest: such a paper must not sink below where tf-idf put it."""
    items = papers()
    reader = Profile(keywords=[OOD])
    lexical = RankWeights(expansion_weight=0.0)  # tf-idf exactly, to compare with
    plain = {p.arxiv_id: p.score for p in rank(fit_edition(items), [reader], 6, weights=lexical)[0]}
    vectors = vectors_of(items)
    del vectors["ood.1"]  # not embedded yet
    model = fit_edition(items, vectors=vectors)
    mixed = {p.arxiv_id: p.score for p in rank(model, [reader], 6, dense=dense_for(OOD))[0]}
    assert set(list(plain)[:2]) == set(list(mixed)[:2]) == {"ood.1", "ood.2"}
    assert mixed["ood.1"] >= plain["ood.1"] - 1e-6  # its tf-idf relevance, not a fifth of it


def test_a_nan_vector_is_read_as_no_vector():
    items = papers()
    vectors = vectors_of(items)
    vectors["graph.1"] = np.full_like(vectors["graph.1"], np.nan)
    model = fit_edition(items, vectors=vectors)
    picks = rank(model, [Profile(keywords=[OOD])], 5, dense=dense_for(OOD))[0]
    assert len(picks) == 5 and all(np.isfinite(p.score) for p in picks)
    assert model.dense_known is not None and not model.dense_known[model.index["graph.1"]]


def test_a_seed_sharing_no_words_with_the_edition_still_steers_through_its_vector():
    items = papers()
    seed = paper("2401.2", "Anomalous", "Anomalies, abstention.")
    model = fit_edition(items, vectors=vectors_of(items))
    assert not (model.vectors_for([seed.text]) @ model.matrix.T).toarray().any()
    reader = Profile(seed_papers=["2401.2"])
    picks = rank(
        model, [reader], 3, library={"2401.2": seed.text}, dense=dense_for(papers_outside=[seed])
    )[0]
    assert set(ids(picks)) == {"nov.1", "ood.1", "ood.2"}


def test_with_too_few_candidates_embedded_the_edition_ranks_as_without_vectors():
    """Half-embedded editions (the embed task still running) rank as the default install."""
    items = papers()
    readers = [Profile(keywords=[OOD]), Profile(description="novelty of classifiers")]
    plain = rank(fit_edition(items), readers, 6)
    half = {a: v for n, (a, v) in enumerate(vectors_of(items).items()) if n % 2 == 0}
    model = fit_edition(items, vectors=half)
    assert not dense_ready(model)
    mixed = rank(model, readers, 6, dense=dense_for(OOD, "novelty of classifiers"))
    assert [ids(p) for p in mixed] == [ids(p) for p in plain]
    assert dense_ready(fit_edition(items, vectors=vectors_of(items)))


def test_the_dense_share_shrinks_as_far_as_the_two_rankings_disagree():
    lexical = np.tile(np.arange(30, dtype=np.float32), (3, 1))
    semantic = np.stack([lexical[0], lexical[0][::-1], lexical[0] * 0 + np.arange(30) % 15])
    shares = agreed_share(0.8, lexical, semantic, trust=1.0)
    assert shares[0] == pytest.approx(0.8)  # same top 10: the full share
    assert shares[1] == pytest.approx(0.0)  # disjoint top 10: tf-idf alone
    assert 0.0 < shares[2] < 0.8
    assert np.allclose(agreed_share(0.8, lexical, semantic, trust=0.0), 0.8)
