"""Relevance: how close a paper is to the reader's words and to the papers they named.

Two signals, each scaled so the reader's best candidate is 1, then averaged:
- words: tf-idf cosine of the keywords (counted twice) + description, mixed with the
  best dense match of any one of them when sentence embeddings are stored, or else
  widened by pseudo-relevance feedback (similarity to the reader's best matches);
- papers: the best cosine to any one seed paper, or liked / clicked paper (the latter
  also through their centroid), tf-idf mixed with dense similarity when stored.
Papers the reader may not get score 0 in both, so they set no scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from newsletter.ranking.dense import DenseVectors, agreed_share, scaled_similarity, stack
from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Profile
from newsletter.ranking.signals import Cells, ReaderRows
from newsletter.ranking.signals.references import Refs, group_max
from newsletter.ranking.weights import RankWeights

# Share of candidates with a vector below which embeddings are left out (dense_ready).
DENSE_MIN_COVERAGE = 0.8


def dense_ready(model: EditionModel) -> bool:
    """Whether enough candidates have vectors for the dense signal to help, not hurt.

    Papers without a vector rank by tf-idf alone, which is on a different footing from
    the mixed scores of the others. On the evaluation set (bench/eval_ranking.py, papers
    embedded at random) nDCG@10 was 0.769 with half of them embedded, 0.812 with 80 %
    and 0.851 with all, against 0.799 for tf-idf with expansion alone: below this share
    the edition ranks as the default install does until the embed task catches up.
    """
    if model.dense is None or model.dense_known is None or not len(model.dense_known):
        return False
    return float(model.dense_known.mean()) >= DENSE_MIN_COVERAGE


@dataclass
class Texts:
    """Readers' keywords and descriptions with a vector: scaled dense rows, once a call."""

    position: dict[str, int]
    scaled: np.ndarray  # (texts, papers) in [0, 1]


def text_table(model: EditionModel, profiles: Sequence[Profile], dense: DenseVectors) -> Texts:
    """Compare every stored keyword / description vector of the readers with the candidates."""
    assert model.dense is not None and model.dense_mean is not None
    wanted: dict[str, None] = {}
    for profile in profiles:
        for text in profile.texts:
            if text in dense.texts:
                wanted[text] = None
    keys = list(wanted)
    vectors = stack(keys, dense.texts, model.dense.shape[1])
    keep = ~np.isnan(vectors[:, 0]) if len(keys) else np.zeros(0, dtype=bool)
    keys = [key for key, ok in zip(keys, keep.tolist(), strict=True) if ok]
    scaled = scaled_similarity(vectors[keep], model.dense, model.dense_mean)
    return Texts({key: i for i, key in enumerate(keys)}, scaled.astype(np.float32))


def words(
    model: EditionModel,
    profiles: Sequence[Profile],
    w: RankWeights,
    texts: Texts | None,
    excluded: Cells,
) -> np.ndarray:
    """Return (readers x papers) closeness to the reader's keywords (twice) + description.

    One tf-idf query per reader; with stored vectors of their texts, mixed with the
    dense match; without one, widened by pseudo-relevance feedback.
    """
    query = model.query_vectors(
        [
            [(kw, 2.0) for kw in p.keywords] + ([(p.description, 1.0)] if p.description else [])
            for p in profiles
        ]
    )
    text = (query @ model.matrix_t).toarray()
    dense_text = np.zeros(len(profiles), dtype=bool)
    if texts is not None and len(texts.position):
        assert model.dense_known is not None
        dense_text = _mix_dense_text(
            text, profiles, texts, w.dense_text_weight, model.dense_known, w.dense_agreement
        )
    if w.expansion_weight > 0:
        # Readers' words miss papers that say the same in other words; without a dense
        # match to find those, borrow the vocabulary of their best matches.
        _expand(model, text, ~dense_text, w.expansion_depth, w.expansion_weight)
    text[excluded.where] = 0.0
    return text


def _mix_dense_text(
    text: np.ndarray,
    profiles: Sequence[Profile],
    texts: Texts,
    share: float,
    known: np.ndarray,
    trust: float = 0.0,
) -> np.ndarray:
    """Blend in, per reader, the best dense match of any one of their texts (in place).

    The best single keyword or description, as with seeds: one reader's several
    keywords are often several interests. On the reader's tf-idf scale; a reader whose
    words tf-idf does not know at all gets the dense match alone. Candidates without a
    vector (`known` False) keep their tf-idf value. With `trust` > 0 a reader's share
    shrinks as far as the two rankings disagree (dense.agreed_share). Returns which
    readers had one.
    """
    groups = [[(t, 1.0) for t in p.texts if t in texts.position] for p in profiles]
    best = group_max(texts.scaled, texts.position, groups)
    has = best.present
    if not has.any():
        return has
    rows = np.flatnonzero(has)
    top = text[rows].max(axis=1, keepdims=True)
    scale = np.where(top > 0, top, 1.0)
    semantic = best.values[best.slot[rows]]
    agreed = agreed_share(share, text[rows], semantic, trust)[:, None]
    share_of = np.where(top > 0, agreed, 1.0)
    mixed = (1 - share_of) * text[rows] + share_of * semantic * scale
    text[rows] = np.where(known[None, :], mixed, text[rows])
    return has


def _expand(
    model: EditionModel, text: np.ndarray, readers: np.ndarray, depth: int, share: float
) -> None:
    """Pseudo-relevance feedback, in place: mix in similarity to each reader's top papers.

    The `depth` papers the reader's words match best stand in for more of their words:
    papers close to them score too, though they share none of the reader's terms
    ("epidemic forecasting" finds the dengue and influenza papers). The similarities
    come from the edition's paper-by-paper table, so this is a row gather, not a query.
    The mix is on the reader's own tf-idf scale, like the dense signal.
    """
    best = text.max(axis=1)
    rows = np.flatnonzero(readers & (best > 0))
    if not len(rows) or text.shape[1] <= depth:
        return
    everyone = len(rows) == len(text)
    own = text if everyone else text[rows]
    top = np.argpartition(-own, depth, axis=1)[:, :depth]
    near = model.similarity_rows(top[:, 0])
    for j in range(1, depth):
        near += model.similarity_rows(top[:, j])
    top_near = near.max(axis=1, keepdims=True)
    near *= (best[rows][:, None] / np.where(top_near > 0, top_near, 1.0)).astype(np.float32)
    # (1 - share) * own + share * near, without temporaries: these are the chunk's
    # largest arrays.
    own *= 1 - share
    near *= share
    own += near
    if not everyone:
        text[rows] = own


def papers(
    refs: Refs, profiles: Sequence[Profile], w: RankWeights, excluded: Cells
) -> tuple[ReaderRows, ReaderRows]:
    """Return closeness to the reader's seed papers, and to their liked / clicked papers.

    Seeds are the reader's declared interests, often several distinct ones: best single
    seed only. Likes pile up around a theme: their centroid may count too. Clicks count
    `w.clicked_weight` as much as likes.
    """
    table = refs.anchor_table
    seeds = group_max(table, refs.position, [[(a, 1.0) for a in p.seed_papers] for p in profiles])
    liked = group_max(
        table,
        refs.position,
        [
            [(a, 1.0) for a in p.liked] + [(a, w.clicked_weight) for a in p.clicked]
            for p in profiles
        ],
        centroid=refs,
    )
    for signal in (seeds, liked):
        keep = signal.slot[excluded.rows] >= 0
        signal.values[signal.slot[excluded.rows][keep], excluded.cols[keep]] = 0.0
    return seeds, liked


@dataclass
class Relevance:
    """A chunk's relevance, with the parts the phrase bonus and the reasons read."""

    score: np.ndarray  # (readers x papers) mean of the active signals, each best at 1
    text: np.ndarray  # (readers x papers) the words signal, unscaled
    text_top: np.ndarray  # (readers,) its best value: 0 for readers without words
    seeds: ReaderRows  # unscaled, as the next two
    liked: ReaderRows
    papers_top: np.ndarray  # (readers,) best of the paper signal
    silent: np.ndarray  # (readers,) neither signal: the reader gave categories only


def combine(text: np.ndarray, seeds: ReaderRows, liked: ReaderRows) -> Relevance:
    """Scale each active signal so the reader's best candidate is 1, then average them."""
    anchor = np.zeros(text.shape, dtype=np.float32)  # lazily zeroed: most rows stay 0
    has_seed, has_liked = seeds.present, liked.present
    anchor[has_seed] = seeds.values[seeds.slot[has_seed]]
    anchor[has_liked] = np.maximum(anchor[has_liked], liked.values[liked.slot[has_liked]])
    text_top = text.max(axis=1)
    anchor_top = anchor.max(axis=1)
    active = (text_top > 0).astype(np.float32) + (anchor_top > 0)
    text_scale = np.where(text_top > 0, 1.0 / np.maximum(text_top * active, 1e-12), 0.0)
    anchor_scale = np.where(anchor_top > 0, 1.0 / np.maximum(anchor_top * active, 1e-12), 0.0)
    score = text * text_scale.astype(np.float32)[:, None]
    anchor *= anchor_scale.astype(np.float32)[:, None]
    score += anchor
    return Relevance(score, text, text_top, seeds, liked, anchor_top, active == 0)
