"""Choose each reader's digest from their best papers by maximal marginal relevance.

The best 3k papers by score form the pool; each step takes the paper with the best
trade-off between its score and its closeness to the papers already chosen
(w.mmr_lambda: 1 = pure score, lower = more varied), and a paper whose cosine to a
chosen one reaches w.duplicate_similarity is never added: no digest of five
near-duplicates.
"""

from __future__ import annotations

import numpy as np

from newsletter.ranking.model import EditionModel
from newsletter.ranking.weights import RankWeights


def diversify(model: EditionModel, score: np.ndarray, k: int, w: RankWeights) -> np.ndarray:
    """Choose up to k columns per row by maximal marginal relevance; -1 pads short rows."""
    n_readers, n_papers = score.shape
    pool_size = min(n_papers, max(3 * k, k + 10))
    if pool_size < n_papers:
        pool = np.argpartition(score, n_papers - pool_size, axis=1)[:, n_papers - pool_size :]
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
        # Similarity of the new pick to the rest of its reader's pool, and only that.
        closest[r] = np.maximum(closest[r], model.similarity_to(pool[r, b], pool[r]))
    # Rows that ran out early keep -1 in later slots; compact so picks stay contiguous.
    order = np.argsort(chosen < 0, axis=1, kind="stable")
    return np.take_along_axis(chosen, order, axis=1)
