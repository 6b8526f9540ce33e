"""Rank an edition's candidates for many readers at once, with a reason for every pick.

The text model is fitted once per edition (`fit_edition`); each chunk of readers is then
scored with sparse/dense matrix products, never a Python loop over papers per reader.

Score of paper p for reader u (every weight is a setting, default in brackets):

    relevance  = mean of the reader's active text signals, each scaled so the reader's
                 best candidate is 1:
                   - tf-idf cosine (1-2 grams, sublinear tf) of keywords + description;
                   - the best cosine to any one seed / liked paper (clicked papers count
                     NEWSLETTER_RANK_CLICKED_WEIGHT [0.6] as much). Max over seeds, not
                     their average: averaging several interests blurs them into none.
                 Once a reader has NEWSLETTER_RANK_MIN_FEEDBACK [6] labelled papers (at
                 least 2 liked/clicked and 2 hidden/ignored), a per-reader logistic
                 regression over tf-idf (see feedback.py) is mixed in with weight
                 NEWSLETTER_RANK_FEEDBACK_WEIGHT [0.35].
    score      = NEWSLETTER_RANK_RELEVANCE_WEIGHT [1.0]  * relevance
               + NEWSLETTER_RANK_KEYWORD_WEIGHT   [0.3]  * (1 - 0.5 ** keyword phrases found)
               + NEWSLETTER_RANK_TRENDING_WEIGHT  [0.15] * log(1 + upvotes) / log(1 + max upvotes)
               + NEWSLETTER_RANK_RECENCY_WEIGHT   [0.05] * 0.5 ** (age / half-life)
               + NEWSLETTER_RANK_CATEGORY_WEIGHT  [0.1]  * (shares a category with the reader)
               - NEWSLETTER_RANK_HIDDEN_PENALTY   [0.3]  * best cosine to a hidden paper

Age is measured from the edition's newest paper; the half-life is
NEWSLETTER_RANK_HALF_LIFE_DAYS [7]. Excluded outright: papers the reader
already received, hid, liked, clicked or gave as seeds, and papers containing a negative
keyword. The digest is then chosen from the best 3k by maximal marginal relevance
(NEWSLETTER_RANK_MMR_LAMBDA [0.75]: 1 = pure score, lower = more varied), and a paper
whose cosine to an already chosen one reaches NEWSLETTER_RANK_DUPLICATE_SIMILARITY [0.8]
is never added: no digest of five near-duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy import sparse

from newsletter.ranking.explain import Signals, explain
from newsletter.ranking.feedback import balanced_weights, decision, fit_dual
from newsletter.ranking.model import EditionModel, fit_edition, library_vectors
from newsletter.ranking.phrases import words
from newsletter.ranking.profile import Pick, Profile
from newsletter.ranking.weights import RankWeights

__all__ = ["CHUNK_SIZE", "EditionModel", "RankWeights", "fit_edition", "rank"]

# Readers per vectorised pass: a (chunk x papers) float32 score matrix per signal.
CHUNK_SIZE = 1000
# Feedback models are trained in sub-batches to bound the (batch, n, papers) kernel.
FEEDBACK_BATCH = 128
MAX_POSITIVES = 32
MAX_NEGATIVES = 32
IMPLICIT_NEGATIVE_STRENGTH = 0.3
CLICK_STRENGTH = 0.5


def rank(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    *,
    weights: RankWeights | None = None,
    library: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> list[list[Pick]]:
    """Return the top `k` picks for each profile, best first, each with a reason.

    `library` maps arXiv ids of papers outside the candidates (older seeds, liked,
    hidden or sent papers) to their text, so they can still steer the ranking.
    """
    weights = weights or RankWeights()
    library = library or {}
    if not len(model) or not profiles or k <= 0:
        return [[] for _ in profiles]
    picks: list[list[Pick]] = []
    for start in range(0, len(profiles), chunk_size):
        chunk = profiles[start : start + chunk_size]
        picks.extend(_rank_chunk(model, chunk, k, weights, library))
    return picks


@dataclass
class _Refs:
    """Papers a chunk of readers refers to, embedded once and compared to all candidates."""

    ids: list[str]
    position: dict[str, int]
    vectors: sparse.csr_matrix
    to_candidates: np.ndarray  # (refs, papers) cosine


def _refs(model: EditionModel, profiles: Sequence[Profile], library: Mapping[str, str]) -> _Refs:
    position: dict[str, int] = {}
    for profile in profiles:
        for arxiv_id in chain(
            profile.seed_papers,
            profile.liked,
            profile.clicked,
            profile.hidden,
            # Sent papers only serve as "ignored" examples for readers who click.
            profile.already_sent[-MAX_NEGATIVES:] if profile.clicked else (),
        ):
            position.setdefault(arxiv_id, len(position))
    ids = list(position)
    vectors = library_vectors(model, ids, library)
    to_candidates = np.asarray((vectors @ model.matrix.T).toarray(), dtype=np.float32)
    return _Refs(ids, position, vectors, to_candidates)


def _group_max(
    refs: _Refs, groups: list[list[tuple[str, float]]], n_papers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (readers x papers) max over each reader's weighted reference papers.

    Also returns which readers had any reference at all.
    """
    out = np.zeros((len(groups), n_papers), dtype=np.float32)
    rows: list[int] = []
    reader_weights: list[float] = []
    starts: list[int] = []
    owners: list[int] = []
    for reader, group in enumerate(groups):
        if not group:
            continue
        starts.append(len(rows))
        owners.append(reader)
        for arxiv_id, weight in group:
            rows.append(refs.position[arxiv_id])
            reader_weights.append(weight)
    present = np.zeros(len(groups), dtype=bool)
    if rows:
        values = (
            refs.to_candidates[np.asarray(rows)]
            * np.asarray(reader_weights, dtype=np.float32)[:, None]
        )
        out[np.asarray(owners)] = np.maximum.reduceat(values, np.asarray(starts), axis=0)
        present[np.asarray(owners)] = True
    return out, present


def _scale_rows(values: np.ndarray) -> np.ndarray:
    """Scale each row so its largest value is 1 (rows of zeros stay zero)."""
    top = values.max(axis=1, keepdims=True)
    return np.asarray(values / np.where(top > 0, top, 1.0), dtype=np.float32)


def _query_text(profile: Profile) -> str:
    # Keywords twice: a typed phrase is a stronger statement than a long description.
    return " ".join([*profile.keywords, *profile.keywords, profile.description]).strip()


def _rank_chunk(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    w: RankWeights,
    library: Mapping[str, str],
) -> list[list[Pick]]:
    n_readers, n_papers = len(profiles), len(model)

    # --- text query: keywords + description ---------------------------------------
    queries = [_query_text(p) for p in profiles]
    has_text = np.array([bool(q) for q in queries])
    text = np.zeros((n_readers, n_papers), dtype=np.float32)
    if has_text.any():
        vectors = model.vectors_for([q for q in queries if q])
        text[has_text] = (vectors @ model.matrix.T).toarray()
    has_text &= text.max(axis=1) > 0

    # --- reference papers: seeds, liked, clicked, hidden ------------------------------
    refs = _refs(model, profiles, library)
    seed_sim, has_seed = _group_max(
        refs, [[(a, 1.0) for a in p.seed_papers] for p in profiles], n_papers
    )
    liked_sim, has_liked = _group_max(
        refs,
        [
            [(a, 1.0) for a in p.liked] + [(a, w.clicked_anchor) for a in p.clicked]
            for p in profiles
        ],
        n_papers,
    )
    hidden_sim, _ = _group_max(refs, [[(a, 1.0) for a in p.hidden] for p in profiles], n_papers)

    excluded_rows: list[int] = []
    excluded_cols: list[int] = []
    for reader, profile in enumerate(profiles):
        for arxiv_id in chain(
            profile.hidden,
            profile.already_sent,
            profile.seed_papers,
            profile.liked,
            profile.clicked,
        ):
            col = model.index.get(arxiv_id)
            if col is not None:
                excluded_rows.append(reader)
                excluded_cols.append(col)
    # Zero what cannot be picked before scaling: a seed is its own best match.
    for signal in (text, seed_sim, liked_sim, hidden_sim):
        signal[excluded_rows, excluded_cols] = 0.0
    anchor = np.maximum(seed_sim, liked_sim)
    has_anchor = (has_seed | has_liked) & (anchor.max(axis=1) > 0)
    active = has_text.astype(np.float32) + has_anchor.astype(np.float32)
    text_scaled = _scale_rows(text)
    top = anchor.max(axis=1, keepdims=True)
    anchor_top = np.where(top > 0, top, 1.0)
    relevance = (text_scaled + anchor / anchor_top) / np.maximum(active, 1.0)[:, None]

    feedback, has_model = _feedback_scores(model, profiles, refs, w)
    if has_model.any():
        relevance[has_model] = (1 - w.feedback) * relevance[has_model] + w.feedback * feedback[
            has_model
        ]

    # --- keyword phrases, negative keywords, categories ------------------------------
    phrase_ids: dict[str, int] = {}
    kw_cells: list[tuple[int, int]] = []
    neg_cells: list[tuple[int, int]] = []
    keyword_slots: list[list[tuple[str, int]]] = []
    for reader, profile in enumerate(profiles):
        slots = []
        for keyword in profile.keywords:
            pid = phrase_ids.setdefault(" ".join(words(keyword)), len(phrase_ids))
            kw_cells.append((reader, pid))
            slots.append((keyword, pid))
        keyword_slots.append(slots)
        for keyword in profile.negative_keywords:
            neg_cells.append(
                (reader, phrase_ids.setdefault(" ".join(words(keyword)), len(phrase_ids)))
            )
    found = model.phrases.matches(list(phrase_ids)).astype(np.float32)
    keyword_hits = _incidence(kw_cells, n_readers, len(phrase_ids)) @ found
    negative_hits = _incidence(neg_cells, n_readers, len(phrase_ids)) @ found

    category_cells = []
    for reader, profile in enumerate(profiles):
        for name in profile.categories:
            col = model.category_index.get(name)
            if col is not None:
                category_cells.append((reader, col))
    category = (
        (
            _incidence(category_cells, n_readers, model.category_matrix.shape[1])
            @ model.category_matrix.T
        )
        .toarray()
        .astype(bool)
    )

    # --- blend -----------------------------------------------------------------------
    score = w.relevance * relevance
    score += w.keyword * (1.0 - np.power(0.5, keyword_hits, dtype=np.float32))
    score += w.trending * model.trending[None, :]
    score += w.recency * model.recency[None, :]
    score += w.category * category
    score -= w.hidden_penalty * hidden_sim

    score[excluded_rows, excluded_cols] = -np.inf
    score[negative_hits > 0] = -np.inf

    chosen = _diversify(model, score, k, w)

    signals = Signals(
        keyword_slots=keyword_slots,
        found=found,
        text=text_scaled,
        has_text=has_text,
        seed_sim=seed_sim / anchor_top,
        liked_sim=liked_sim / anchor_top,
        feedback=feedback,
        has_model=has_model,
        category=category,
    )
    out: list[list[Pick]] = []
    for reader, profile in enumerate(profiles):
        picks = []
        for col in chosen[reader]:
            if col < 0:
                break
            reason = explain(model, profile, signals, reader, int(col))
            picks.append(Pick(model.papers[col].arxiv_id, float(score[reader, col]), reason))
        out.append(picks)
    return out


def _incidence(cells: list[tuple[int, int]], n_rows: int, n_cols: int) -> sparse.csr_matrix:
    if not cells:
        return sparse.csr_matrix((n_rows, n_cols), dtype=np.float32)
    rows, cols = zip(*cells, strict=True)
    return sparse.csr_matrix(
        (np.ones(len(cells), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols)
    )


def _diversify(model: EditionModel, score: np.ndarray, k: int, w: RankWeights) -> np.ndarray:
    """Choose up to k columns per row by maximal marginal relevance; -1 pads short rows."""
    n_readers, n_papers = score.shape
    pool_size = min(n_papers, max(3 * k, k + 10))
    if pool_size < n_papers:
        pool = np.argpartition(-score, pool_size - 1, axis=1)[:, :pool_size]
    else:
        pool = np.broadcast_to(np.arange(n_papers), (n_readers, n_papers)).copy()
    pool_score = np.take_along_axis(score, pool, axis=1)
    valid = np.isfinite(pool_score)
    # Put every row's scores on [0, 1] so the trade-off with similarity means the same
    # for a reader with sharp interests as for one with none.
    low = np.where(valid, pool_score, np.inf).min(axis=1, keepdims=True)
    high = np.where(valid, pool_score, -np.inf).max(axis=1, keepdims=True)
    span = np.where(np.isfinite(high - low) & (high > low), high - low, 1.0)
    relevance = np.where(valid, (pool_score - np.where(np.isfinite(low), low, 0)) / span, 0.0)
    similar = model.pairwise(pool)

    rows = np.arange(n_readers)
    taken = ~valid
    closest = np.zeros(pool.shape, dtype=np.float32)
    chosen = np.full((n_readers, k), -1, dtype=np.int64)
    for step in range(min(k, pool_size)):
        value = w.mmr_lambda * relevance - (1 - w.mmr_lambda) * closest
        value[taken | (closest >= w.duplicate_similarity)] = -np.inf
        best = value.argmax(axis=1)
        ok = np.isfinite(value[rows, best])
        if not ok.any():
            break
        r, b = rows[ok], best[ok]
        chosen[r, step] = pool[r, b]
        taken[r, b] = True
        closest[r] = np.maximum(closest[r], similar[r, b])
    # Rows that ran out early keep -1 in later slots; compact so picks stay contiguous.
    order = np.argsort(chosen < 0, axis=1, kind="stable")
    return np.take_along_axis(chosen, order, axis=1)


def _feedback_scores(
    model: EditionModel, profiles: Sequence[Profile], refs: _Refs, w: RankWeights
) -> tuple[np.ndarray, np.ndarray]:
    """Train per-reader models for readers with enough feedback; scores in [0, 1]."""
    n_readers, n_papers = len(profiles), len(model)
    scores = np.zeros((n_readers, n_papers), dtype=np.float32)
    has_model = np.zeros(n_readers, dtype=bool)
    examples: list[tuple[int, list[tuple[str, int, float]]]] = []
    for reader, profile in enumerate(profiles):
        positives = [(a, 1, 1.0) for a in profile.liked] + [
            (a, 1, CLICK_STRENGTH) for a in profile.clicked if a not in profile.liked
        ]
        positive_ids = {a for a, _, _ in positives}
        explicit = [(a, 0, 1.0) for a in profile.hidden if a not in positive_ids]
        # Sent but never clicked: a weak "not for me", only from readers who do click.
        implicit = []
        if profile.clicked:
            skip = positive_ids | set(profile.hidden)
            implicit = [
                (a, 0, IMPLICIT_NEGATIVE_STRENGTH)
                for a in profile.already_sent[-MAX_NEGATIVES:]
                if a not in skip
            ]
        negatives = (explicit[-MAX_NEGATIVES:] + implicit)[:MAX_NEGATIVES]
        positives = positives[-MAX_POSITIVES:]
        if (
            len(positives) >= 2
            and len(negatives) >= 2
            and len(positives) + len(negatives) >= w.min_feedback
        ):
            examples.append((reader, positives + negatives))
    for start in range(0, len(examples), FEEDBACK_BATCH):
        batch = examples[start : start + FEEDBACK_BATCH]
        width = max(len(items) for _, items in batch)
        index = np.zeros((len(batch), width), dtype=np.int64)
        labels = np.zeros((len(batch), width), dtype=np.float64)
        strength = np.zeros((len(batch), width), dtype=np.float64)
        for b, (_, items) in enumerate(batch):
            for i, (arxiv_id, label, weight) in enumerate(items):
                index[b, i] = refs.position[arxiv_id]
                labels[b, i] = label
                strength[b, i] = weight
        used = np.unique(index)
        local = np.searchsorted(used, index)
        vectors = refs.vectors[used]
        gram_all = np.asarray((vectors @ vectors.T).toarray(), dtype=np.float32)
        gram = gram_all[local[:, :, None], local[:, None, :]] * (strength > 0)[:, :, None]
        alpha, bias = fit_dual(gram, labels, balanced_weights(labels, strength))
        values = decision(alpha, bias, refs.to_candidates[index])
        readers = np.array([reader for reader, _ in batch])
        low = values.min(axis=1, keepdims=True)
        high = values.max(axis=1, keepdims=True)
        scores[readers] = (values - low) / np.where(high > low, high - low, 1.0)
        has_model[readers] = True
    return scores, has_model
