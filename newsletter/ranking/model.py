"""Fit the per-edition text model once: tf-idf matrix, paper similarities, static signals.

Everything here depends only on the edition's candidates, never on a reader, so one
fit serves every chunk of readers (the pipeline caches it per worker process).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from newsletter.ranking.phrases import PhraseIndex
from newsletter.ranking.profile import CandidatePaper
from newsletter.timeutil import as_utc

# Paper-by-paper cosine similarities are kept dense up to this many candidates
# (6,000 -> 144 MB float32); above it, rows are computed on demand.
DENSE_SIMILARITY_LIMIT = 6000


@dataclass
class EditionModel:
    """The per-edition state every reader's ranking reads."""

    papers: list[CandidatePaper]
    index: dict[str, int]
    vectorizer: TfidfVectorizer
    # (papers x vocabulary) tf-idf rows, L2-normalised, float32.
    matrix: sparse.csr_matrix
    # (papers,) signals in [0, 1] that do not depend on the reader.
    trending: np.ndarray
    recency: np.ndarray
    # (papers x categories) incidence, with archive prefixes ("cs") as extra columns.
    category_index: dict[str, int]
    category_matrix: sparse.csr_matrix
    phrases: PhraseIndex
    reference_time: datetime | None
    _similarity: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.papers)

    def similarity_rows(self, rows: np.ndarray) -> np.ndarray:
        """Return cosine similarities (len(rows) x papers) of candidate rows to all papers."""
        if self._similarity is not None:
            return self._similarity[rows]
        return np.asarray((self.matrix[rows] @ self.matrix.T).toarray(), dtype=np.float32)

    def pairwise(self, pool: np.ndarray) -> np.ndarray:
        """Return similarities among each row's pool: (readers, P) -> (readers, P, P)."""
        if self._similarity is not None:
            return self._similarity[pool[:, :, None], pool[:, None, :]]
        out = np.empty((*pool.shape, pool.shape[1]), dtype=np.float32)
        for i, row in enumerate(pool):  # only above DENSE_SIMILARITY_LIMIT candidates
            sub = self.matrix[row]
            out[i] = (sub @ sub.T).toarray()
        return out

    def vectors_for(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Embed texts (queries, papers outside the edition) in the edition's tf-idf space."""
        if not texts:
            return sparse.csr_matrix((0, self.matrix.shape[1]), dtype=np.float32)
        return sparse.csr_matrix(self.vectorizer.transform(list(texts)), dtype=np.float32)


def _vectorizer(n_docs: int) -> TfidfVectorizer:
    # Bigrams catch phrases ("model merging"), sublinear tf stops one repeated word from
    # dominating an abstract, and max_df drops words too common to tell papers apart.
    # arxiv-sanity uses max_df=0.1 over a whole archive; one edition is narrower (a
    # topic can fill a fifth of it), so we cut at half, and not at all for tiny sets.
    return TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        stop_words="english",
        max_df=0.5 if n_docs >= 20 else 1.0,
        min_df=1,
        dtype=np.float32,
        strip_accents="unicode",
    )


def fit_edition(
    papers: Sequence[CandidatePaper],
    *,
    half_life_days: float = 7.0,
    reference_time: datetime | None = None,
) -> EditionModel:
    """Fit the text model and static signals on the edition's candidates (once)."""
    papers = list(papers)
    texts = [p.text for p in papers]
    vectorizer = _vectorizer(len(papers))
    try:
        matrix = vectorizer.fit_transform(texts) if texts else None
    except ValueError:  # empty vocabulary: only stop words or nothing at all
        matrix = None
    if matrix is None:
        vectorizer = TfidfVectorizer(dtype=np.float32, token_pattern=r"(?u)\b\w+\b")
        vectorizer.fit(["empty"])
        matrix = sparse.csr_matrix((len(papers), 1), dtype=np.float32)
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)

    upvotes = np.array([max(p.upvotes, 0) for p in papers], dtype=np.float32)
    top = math.log1p(float(upvotes.max())) if len(papers) and upvotes.max() > 0 else 1.0
    trending = (np.log1p(upvotes) / top).astype(np.float32)

    dated = [as_utc(p.published_at) for p in papers if p.published_at is not None]
    # Decay relative to the edition's newest paper, not the wall clock: the same
    # candidates rank the same way whenever they are ranked (and in tests).
    reference = reference_time or (max(dated) if dated else None)
    recency = np.zeros(len(papers), dtype=np.float32)
    if reference is not None:
        for i, paper in enumerate(papers):
            if paper.published_at is not None:
                age_days = max((reference - as_utc(paper.published_at)).total_seconds(), 0) / 86400
                recency[i] = 0.5 ** (age_days / max(half_life_days, 1e-6))

    category_index: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, paper in enumerate(papers):
        names = {c for c in paper.categories} | {c.split(".")[0] for c in paper.categories}
        for name in names:
            rows.append(i)
            cols.append(category_index.setdefault(name, len(category_index)))
    category_matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(papers), max(len(category_index), 1)),
    )

    similarity = None
    if len(papers) <= DENSE_SIMILARITY_LIMIT:
        similarity = np.asarray((matrix @ matrix.T).toarray(), dtype=np.float32)
    return EditionModel(
        papers=papers,
        index={p.arxiv_id: i for i, p in enumerate(papers)},
        vectorizer=vectorizer,
        matrix=matrix,
        trending=trending,
        recency=recency,
        category_index=category_index,
        category_matrix=category_matrix,
        phrases=PhraseIndex(texts),
        reference_time=reference,
        _similarity=similarity,
    )


def library_vectors(
    model: EditionModel, ids: Sequence[str], library: Mapping[str, str]
) -> sparse.csr_matrix:
    """Embed papers by id: candidates from the model, others from `library` texts.

    Unknown ids (neither a candidate nor in the library) become empty rows, so they
    simply contribute nothing.
    """
    blocks = []
    outside = [a for a in ids if a not in model.index]
    outside_vectors = model.vectors_for([library.get(a, "") for a in outside])
    outside_row = {a: i for i, a in enumerate(outside)}
    for arxiv_id in ids:
        if arxiv_id in model.index:
            blocks.append(model.matrix[model.index[arxiv_id]])
        else:
            blocks.append(outside_vectors[outside_row[arxiv_id]])
    if not blocks:
        return sparse.csr_matrix((0, model.matrix.shape[1]), dtype=np.float32)
    return sparse.csr_matrix(sparse.vstack(blocks), dtype=np.float32)
