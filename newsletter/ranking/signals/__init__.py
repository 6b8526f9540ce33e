"""The signals a paper's score is made of, one module each, for a chunk of readers.

Each signal is a function of the edition model, the chunk's profiles (or the papers they
point at, `references.Refs`) and the weights, returning a (readers x papers) array:
a numpy array where most cells count (relevance, popularity, categories), or one of the
two sparse forms below where few do (phrase hits, negative keywords, exclusions: a few
cells; hidden papers: a few readers). `newsletter.ranking.score.rank_chunk` adds them up.

The sparse forms take part in `score += term` and `score -= weight * term` through
numpy's `__array_ufunc__` protocol: the operation changes only the cells or rows they
hold, in place, so a term costs what it touches rather than a pass over the chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse


def incidence(cells: tuple[list[int], list[int]], n_rows: int, n_cols: int) -> sparse.csr_matrix:
    """Return a 0/1 float32 matrix with a 1 at each (row, col) cell."""
    rows, cols = cells
    return sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols)
    )


class _SparseTerm:
    """A term of the score that adds to (or subtracts from) a dense score in place."""

    shape: tuple[int, int]
    values: np.ndarray

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.values.dtype

    def _add_to(self, target: np.ndarray, sign: int) -> None:
        raise NotImplementedError

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.values.dtype)
        self._add_to(out, 1)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.toarray() if dtype is None else self.toarray().astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # Only `target += self` and `target -= self`: numpy calls these with out=(target,).
        out: tuple[Any, ...] = kwargs.get("out") or ()
        if (
            method == "__call__"
            and ufunc in (np.add, np.subtract)
            and len(out) == 1
            and len(kwargs) == 1
            and len(inputs) == 2
            and inputs[0] is out[0]
            and inputs[1] is self
        ):
            self._add_to(out[0], 1 if ufunc is np.add else -1)
            return out[0]
        return NotImplemented


class Cells(_SparseTerm):
    """A (readers x papers) term with values on a few distinct cells only."""

    def __init__(
        self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]
    ) -> None:
        self.rows, self.cols, self.values, self.shape = rows, cols, values, shape

    @property
    def where(self) -> tuple[np.ndarray, np.ndarray]:
        """The cells, as an index: `score[term.where] = -np.inf`."""
        return self.rows, self.cols

    def __rmul__(self, weight: float) -> Cells:
        return Cells(self.rows, self.cols, weight * self.values, self.shape)

    def _add_to(self, target: np.ndarray, sign: int) -> None:
        if sign > 0:
            target[self.rows, self.cols] += self.values
        else:
            target[self.rows, self.cols] -= self.values


class ReaderRows(_SparseTerm):
    """A (readers x papers) term stored by the readers who have it: most have no seeds.

    `slot` gives each reader's row in `values`, -1 for readers without the signal.
    """

    def __init__(self, slot: np.ndarray, values: np.ndarray) -> None:
        self.slot, self.values = slot, values  # (readers,), (readers with it, papers)
        self.shape = (len(slot), values.shape[1])

    @property
    def present(self) -> np.ndarray:
        return self.slot >= 0

    def at(self, cols: np.ndarray) -> np.ndarray:
        """Return values[slot[reader], cols[reader, j]], 0 for readers without a slot."""
        out = np.zeros(cols.shape, dtype=np.float32)
        present = self.present
        if present.any():
            out[present] = self.values[self.slot[present][:, None], cols[present]]
        return out

    def __rmul__(self, weight: float) -> ReaderRows:
        return ReaderRows(self.slot, weight * self.values)

    def _add_to(self, target: np.ndarray, sign: int) -> None:
        present = self.present
        if not present.any():
            return
        if sign > 0:
            target[present] += self.values[self.slot[present]]
        else:
            target[present] -= self.values[self.slot[present]]
