"""Sentence-embedding similarity as a second opinion beside tf-idf, when vectors exist.

Dense vectors catch what shares no words ("novelty detection" for a reader of
"out-of-distribution detection"); tf-idf catches exact terms that a small embedding
model blurs. On our judged set the mix beats either alone (bench/eval_ranking.py), as
the research notes found. Vectors are computed once per paper and once per distinct
reader text, and stored (newsletter.ranking.vectors); ranking only reads them, so it
needs neither the model nor torch.

Raw cosines of a sentence model sit on a high floor (unrelated abstracts still score
0.1-0.3), so each row is rescaled against its own baseline, the mean cosine to the
edition's candidates: (cos - mean) / (best - mean), clipped at 0. The mean comes
from one product with the candidates' mean vector, not from the rows themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DenseVectors:
    """Stored embeddings the ranking may read: papers by arXiv id, reader texts by text."""

    papers: Mapping[str, np.ndarray] = field(default_factory=dict)
    texts: Mapping[str, np.ndarray] = field(default_factory=dict)


def candidate_matrix(
    ids: list[str], vectors: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Return (unit rows per candidate, zero where unknown; which are known; their mean).

    None if no candidate has a vector. A vector of the wrong length, all zeros, or with
    NaN or infinities counts as unknown: one bad row must not poison every score.
    """
    found = [vectors.get(a) for a in ids]
    width = next((len(v) for v in found if v is not None), 0)
    if not width:
        return None
    matrix = np.zeros((len(ids), width), dtype=np.float32)
    for row, vector in enumerate(found):
        if vector is not None and len(vector) == width:
            matrix[row] = vector
    matrix[~np.isfinite(matrix).all(axis=1)] = 0.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms > 0, norms, 1.0)
    known = norms[:, 0] > 0
    if not known.any():
        return None
    return matrix, known, matrix[known].mean(axis=0)


def stack(keys: list[str], vectors: Mapping[str, np.ndarray], width: int) -> np.ndarray:
    """Return unit rows for keys, NaN rows where a key has no (or a misshapen) vector."""
    out = np.full((len(keys), width), np.nan, dtype=np.float32)
    for row, key in enumerate(keys):
        vector = vectors.get(key)
        if vector is not None and len(vector) == width:
            norm = float(np.linalg.norm(vector))
            if norm > 0 and np.isfinite(norm):
                out[row] = np.asarray(vector, dtype=np.float32) / norm
    return out


def scaled_similarity(queries: np.ndarray, matrix: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Return (queries x candidates) cosines rescaled to [0, 1] above each row's baseline.

    Rows of NaN (no vector) come back as NaN, for the caller to fall back on tf-idf.
    """
    cosine = queries @ matrix.T
    baseline = (queries @ mean)[:, None]
    top = cosine.max(axis=1, keepdims=True) if cosine.shape[1] else baseline
    span = np.where(top > baseline, top - baseline, 1.0)
    cosine -= baseline
    cosine /= span
    np.maximum(cosine, 0.0, out=cosine)
    return cosine


# How many best candidates of each ranking are compared to measure their agreement.
AGREEMENT_DEPTH = 10


def agreement(
    lexical: np.ndarray, semantic: np.ndarray, depth: int = AGREEMENT_DEPTH
) -> np.ndarray:
    """Return, per row, the share of the `depth` best candidates the two rankings share.

    Where tf-idf and the sentence model pick the same papers, mixing them is safe and
    sharpens the order; where they disagree, one of them is wrong about this reader and
    the mix can fall below both, so the caller leans on tf-idf, which never invents a
    match (RankWeights.dense_agreement).
    """
    n_rows, n_cols = lexical.shape
    if n_cols <= depth:
        return np.ones(n_rows, dtype=np.float32)
    top_a = np.argpartition(-lexical, depth, axis=1)[:, :depth]
    top_b = np.argpartition(-semantic, depth, axis=1)[:, :depth]
    hits = (top_a[:, :, None] == top_b[:, None, :]).any(axis=2).sum(axis=1)
    return (hits / depth).astype(np.float32)


def agreed_share(
    share: float, lexical: np.ndarray, semantic: np.ndarray, trust: float
) -> np.ndarray:
    """Return each row's dense share: `share`, less as far as the rankings disagree.

    With `trust` 0 every row gets `share`; with 1 a row whose top candidates are
    disjoint gets none.
    """
    if trust <= 0:
        return np.full(len(lexical), share, dtype=np.float32)
    return (share * (1 - trust * (1 - agreement(lexical, semantic)))).astype(np.float32)
