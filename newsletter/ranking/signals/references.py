"""Embed the papers readers point at once per ranking call: seeds, liked, clicked, hidden.

Relevance (seed and liked papers), the feedback models (liked against hidden or ignored)
and the hidden-paper penalty all compare these papers with the candidates; each is
looked up here once for the whole call, however many chunks of readers follow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy import sparse

from newsletter.ranking.dense import DenseVectors, agreed_share, scaled_similarity, stack
from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Profile
from newsletter.ranking.signals import ReaderRows

# Sent papers kept as "ignored" examples for a reader who clicks (the newest ones).
MAX_NEGATIVES = 32


@dataclass
class Refs:
    """Papers readers refer to (seeds, liked, clicked, hidden, sent), embedded once."""

    position: dict[str, int]
    vectors: sparse.csr_matrix  # (refs, vocabulary)
    to_candidates: np.ndarray  # (refs, papers) tf-idf cosine: the feedback models' kernel
    # What reference papers count by: to_candidates, or it mixed with dense similarity.
    anchor: np.ndarray | None = None

    @property
    def anchor_table(self) -> np.ndarray:
        return self.to_candidates if self.anchor is None else self.anchor


def reference_papers(
    model: EditionModel, profiles: Sequence[Profile], library: Mapping[str, str]
) -> Refs:
    """Embed every paper the readers point at and compare it with the candidates.

    Papers among the candidates reuse their rows; others are embedded from `library`
    (arXiv id -> text); unknown ids (no text anywhere) embed as empty rows and so
    contribute nothing.
    """
    inside: dict[str, None] = {}
    outside: dict[str, None] = {}
    for profile in profiles:
        for arxiv_id in chain(
            profile.seed_papers,
            profile.liked,
            profile.clicked,
            profile.hidden,
            # Sent papers only serve as "ignored" examples for readers who click.
            profile.already_sent[-MAX_NEGATIVES:] if profile.clicked else (),
        ):
            (inside if arxiv_id in model.index else outside)[arxiv_id] = None
    inside_rows = np.array([model.index[a] for a in inside], dtype=np.int64)
    outside_vectors = model.query_vectors([[(library.get(a, ""), 1.0)] for a in outside])
    vectors = sparse.csr_matrix(
        sparse.vstack([model.matrix[inside_rows], outside_vectors]), dtype=np.float32
    )
    to_candidates = np.empty((len(inside) + len(outside), len(model)), dtype=np.float32)
    if len(inside):
        to_candidates[: len(inside)] = model.similarity_rows(inside_rows)
    if len(outside):
        to_candidates[len(inside) :] = (outside_vectors @ model.matrix_t).toarray()
    position = {a: i for i, a in enumerate(chain(inside, outside))}
    return Refs(position, vectors, to_candidates)


def mix_dense_refs(
    model: EditionModel, refs: Refs, dense: DenseVectors, share: float, trust: float = 0.0
) -> None:
    """Blend each reference paper's dense similarity into what it counts by.

    The dense part is put on the scale of the paper's own tf-idf row (its best cosine),
    so max-over-seeds and the other weights mean what they meant without vectors; a
    paper whose words no candidate shares gets the typical scale of the others. A
    reference paper without a vector keeps its tf-idf row, and so does every candidate
    without one. With `trust` > 0 a paper's share shrinks where its tf-idf and dense
    neighbours disagree (dense.agreed_share).
    """
    assert model.dense is not None and model.dense_mean is not None
    assert model.dense_known is not None
    ids = list(refs.position)
    if not ids:
        return
    vectors = stack(ids, dense.papers, model.dense.shape[1])
    for row, arxiv_id in enumerate(ids):
        col = model.index.get(arxiv_id)
        if col is not None and model.dense[col].any():
            vectors[row] = model.dense[col]
    scaled = scaled_similarity(vectors, model.dense, model.dense_mean)
    top = refs.to_candidates.max(axis=1, keepdims=True)
    typical = float(np.median(top[top > 0])) if (top > 0).any() else 1.0
    agreed = agreed_share(share, refs.to_candidates, np.nan_to_num(scaled), trust)[:, None]
    share_of = np.where(top > 0, agreed, 1.0)
    mixed = (1 - share_of) * refs.to_candidates + share_of * scaled * np.where(
        top > 0, top, typical
    )
    missing = np.isnan(scaled[:, 0])
    mixed[missing] = refs.to_candidates[missing]
    unknown = ~model.dense_known
    mixed[:, unknown] = refs.to_candidates[:, unknown]
    refs.anchor = mixed.astype(np.float32)


def group_max(
    table: np.ndarray,
    rows_of: Mapping[str, int],
    groups: list[list[tuple[str, float]]],
    *,
    centroid: Refs | None = None,
) -> ReaderRows:
    """Return, for readers with any row in `table`, the max over their weighted rows.

    `rows_of` maps each key in the groups (an arXiv id, a text) to its row. With
    `centroid` (the reference papers), the similarity to the group's centroid counts too.
    """
    rows: list[int] = []
    weights: list[float] = []
    starts: list[int] = []
    slot = np.full(len(groups), -1, dtype=np.int64)
    for reader, group in enumerate(groups):
        if group:
            slot[reader] = len(starts)
            starts.append(len(rows))
            for arxiv_id, weight in group:
                rows.append(rows_of[arxiv_id])
                weights.append(weight)
    if not rows:
        return ReaderRows(slot, np.zeros((0, table.shape[1]), dtype=np.float32))
    # Gather by position within the groups (first papers of all readers, then second
    # papers, ...): each step is one contiguous row gather, far cheaper than a reduceat
    # along the rows, and the total work is still one row per reference paper.
    starts_a = np.asarray(starts, dtype=np.int64)
    sizes = np.diff(np.append(starts_a, len(rows)))
    rows_a = np.asarray(rows, dtype=np.int64)
    factor = np.asarray(weights, dtype=np.float32)
    weighted = bool((factor != 1.0).any())

    def at(position: int, groups_at: np.ndarray) -> np.ndarray:
        picked = starts_a[groups_at] + position
        values = table[rows_a[picked]]
        if weighted:
            values *= factor[picked][:, None]
        return values

    everyone = np.arange(len(starts_a))
    best = at(0, everyone)
    total = best.copy() if centroid is not None else None
    for position in range(1, int(sizes.max())):
        groups_at = everyone[sizes > position]
        values = at(position, groups_at)
        best[groups_at] = np.maximum(best[groups_at], values)
        if total is not None:
            total[groups_at] += values
    if total is None or centroid is None:
        return ReaderRows(slot, best)
    # Also compare with the (weighted) centroid of each reader's papers: for papers on
    # one theme it picks up their shared vocabulary; for papers on different themes it
    # is a blur that rarely beats the best single paper, so taking the max keeps both.
    several = sizes > 1
    if several.any():
        owner = np.repeat(np.arange(len(starts_a)), sizes)
        combine = sparse.csr_matrix(
            (factor, (owner, rows_a)), shape=(len(starts_a), len(centroid.position))
        )
        norms = np.sqrt(np.asarray((combine @ centroid.vectors).power(2).sum(axis=1)).ravel())
        mean = total[several] / np.where(norms > 0, norms, 1.0)[several][:, None]
        best[several] = np.maximum(best[several], mean)
    return ReaderRows(slot, best)
