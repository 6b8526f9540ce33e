"""The signals a paper's score is made of, one module each, for a chunk of readers.

Each signal is a function of the edition model, the chunk's profiles (or the papers they
point at, `references.Refs`) and the weights, returning a (readers x papers) array:
dense where most cells count (relevance, categories), sparse where few do (phrase hits,
negative keywords, exclusions). `newsletter.ranking.score.rank_chunk` adds them up.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def incidence(cells: tuple[list[int], list[int]], n_rows: int, n_cols: int) -> sparse.csr_matrix:
    """Return a 0/1 float32 matrix with a 1 at each (row, col) cell."""
    rows, cols = cells
    return sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols)
    )
