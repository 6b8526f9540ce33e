"""Fit the per-edition text model once: tf-idf matrix, paper similarities, static signals.

Everything here depends only on the edition's candidates, never on a reader, so one
fit serves every chunk of readers (the pipeline caches it per worker process).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from newsletter.ranking.dense import candidate_matrix
from newsletter.ranking.phrases import PhraseIndex, words
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
    # Term -> column of the tf-idf matrix, and each column's smoothed idf.
    vocabulary: dict[str, int]
    idf: np.ndarray
    # (papers x vocabulary) tf-idf rows, L2-normalised, float32.
    matrix: sparse.csr_matrix
    # (papers,) signals in [0, 1] that do not depend on the reader.
    trending: np.ndarray
    recency: np.ndarray
    # (papers x categories) incidence, with archive prefixes ("cs") as extra columns.
    category_index: dict[str, int]
    category_matrix: sparse.csr_matrix
    phrases: PhraseIndex
    title_phrases: PhraseIndex
    reference_time: datetime | None
    # Optional sentence embeddings (papers x dims, unit rows, zero rows where a paper has
    # none), which papers have one, and their mean: the baseline of dense similarities
    # (see dense.py). A paper without a vector ranks by tf-idf alone.
    dense: np.ndarray | None = None
    dense_known: np.ndarray | None = None
    dense_mean: np.ndarray | None = None
    _similarity: np.ndarray | None = field(default=None, repr=False)
    # Raw term counts of short texts (keywords, descriptions) already analysed.
    _counts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _matrix_t: sparse.csr_matrix | None = field(default=None, repr=False)
    _category_dense: np.ndarray | None = field(default=None, repr=False)
    _paper_categories: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _keys: dict[str, str] = field(default_factory=dict, repr=False)
    _paper_phrases: tuple[list[str], list[str]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.papers)

    @property
    def matrix_t(self) -> sparse.csr_matrix:
        """The paper matrix transposed, kept in CSR so query products stay fast."""
        if self._matrix_t is None:
            self._matrix_t = sparse.csr_matrix(self.matrix.T)
        return self._matrix_t

    @property
    def paper_phrases(self) -> tuple[list[str], list[str]]:
        """Per paper, the words reasons end with: its upvotes, and what to say otherwise."""
        if self._paper_phrases is None:
            upvotes = [
                f"{p.upvotes} upvote{'' if p.upvotes == 1 else 's'}" if p.upvotes > 0 else ""
                for p in self.papers
            ]
            fallback = ["new this edition" if r >= 0.5 else "trending today" for r in self.recency]
            self._paper_phrases = (upvotes, fallback)
        return self._paper_phrases

    @property
    def category_names(self) -> list[str]:
        """Category names by column of the category matrix."""
        return sorted(self.category_index, key=self.category_index.__getitem__)

    @property
    def paper_categories(self) -> tuple[np.ndarray, np.ndarray]:
        """Per paper, the column of each category and of its archive; -1 pads rows.

        The padding -1 indexes the last column of a reader's wanted-matrix, kept False.
        """
        if self._paper_categories is None:
            width = max((len(p.categories) for p in self.papers), default=0) or 1
            full = np.full((len(self), width), -1, dtype=np.int64)
            archive = np.full((len(self), width), -1, dtype=np.int64)
            for i, paper in enumerate(self.papers):
                for j, name in enumerate(paper.categories):
                    full[i, j] = self.category_index[name]
                    archive[i, j] = self.category_index[name.split(".")[0]]
            self._paper_categories = (full, archive)
        return self._paper_categories

    @property
    def category_dense(self) -> np.ndarray:
        """(categories x papers) incidence as a dense float32 array."""
        if self._category_dense is None:
            self._category_dense = self.category_matrix.T.toarray().astype(np.float32)
        return self._category_dense

    def similarity_rows(self, rows: np.ndarray) -> np.ndarray:
        """Return cosine similarities (len(rows) x papers) of candidate rows to all papers."""
        if self._similarity is not None:
            return self._similarity[rows]
        return np.asarray((self.matrix[rows] @ self.matrix.T).toarray(), dtype=np.float32)

    def similarity_to(self, picked: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """Return cosine of each picked paper (n,) to each paper of its pool (n, P)."""
        if self._similarity is not None:
            return self._similarity[picked[:, None], pool]
        sims = (self.matrix[picked] @ self.matrix_t).toarray()  # above the dense limit
        return np.take_along_axis(sims, pool, axis=1)

    def phrase_key(self, phrase: str) -> str:
        """Return the normalised form of a keyword phrase (cached: readers share them)."""
        key = self._keys.get(phrase)
        if key is None:
            key = self._keys[phrase] = " ".join(words(phrase))
        return key

    def query_vectors(self, parts: Sequence[Sequence[tuple[str, float]]]) -> sparse.csr_matrix:
        """Embed readers' queries, each a list of (text, repeat) such as keywords twice.

        Same tf-idf as the papers (sublinear tf, idf, L2), but each distinct text is
        analysed once per edition and never joined to its neighbours, so no bigram
        spans two keywords. Readers share keywords; this is what keeps 100k queries cheap.
        """
        owners: list[int] = []
        terms_list: list[np.ndarray] = []
        counts_list: list[np.ndarray] = []
        cache = self._counts
        for reader, texts in enumerate(parts):
            for text, repeat in texts:
                counted = cache.get(text)
                if counted is None:
                    counted = cache[text] = self._count(text)
                owners.append(reader)
                terms_list.append(counted[0])
                counts_list.append(counted[1] * repeat if repeat != 1.0 else counted[1])
        shape = (len(parts), self.matrix.shape[1])
        if not terms_list:
            return sparse.csr_matrix(shape, dtype=np.float32)
        lengths = np.fromiter((len(t) for t in terms_list), dtype=np.int64, count=len(terms_list))
        rows = np.repeat(np.asarray(owners, dtype=np.int64), lengths)
        query = sparse.csr_matrix(
            (np.concatenate(counts_list), (rows, np.concatenate(terms_list))), shape=shape
        )
        query.sum_duplicates()
        query.data = (1.0 + np.log(query.data)).astype(np.float32)  # sublinear tf
        query.data *= self.idf[query.indices]
        norms = np.sqrt(np.asarray(query.multiply(query).sum(axis=1)).ravel())
        scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
        query.data *= np.repeat(scale, np.diff(query.indptr)).astype(np.float32)
        return query

    def _count(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        terms = analyze(text)
        ids = np.fromiter(
            map(self.vocabulary.get, terms, itertools.repeat(-1)), np.int64, len(terms)
        )
        found, counts = np.unique(ids[ids >= 0], return_counts=True)
        return found, counts.astype(np.float32)

    def vectors_for(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Embed texts (queries, papers outside the edition) in the edition's tf-idf space."""
        return self.query_vectors([[(text, 1.0)] for text in texts])


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def analyze(text: str) -> list[str]:
    """Split text into the model's terms: words and word pairs, stop words dropped.

    The same terms scikit-learn's default word analyzer makes with ngram_range=(1, 2)
    and stop_words="english", in a third of its time: papers, queries and library
    papers all go through here.
    """
    tokens = [t for t in _TOKEN.findall(text.lower()) if t not in ENGLISH_STOP_WORDS]
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def fit_tfidf(texts: Sequence[str]) -> tuple[dict[str, int], np.ndarray, sparse.csr_matrix]:
    """Fit tf-idf on the edition's texts: (vocabulary, idf, L2-normalised float32 rows).

    Bigrams catch phrases ("model merging"), sublinear tf stops one repeated word from
    dominating an abstract, and max_df drops words too common to tell papers apart.
    arxiv-sanity uses max_df=0.1 over a whole archive; one edition is narrower (a topic
    can fill a fifth of it), so we cut at half, and not at all for tiny sets.

    The result equals scikit-learn's TfidfVectorizer(analyzer=analyze, sublinear_tf=True,
    max_df=...) up to the order of the columns (tests check it), in a fraction of its
    time: scikit-learn sorts and prunes a vocabulary of hundreds of thousands of bigrams
    through Python dictionaries, which dominated the whole per-edition fit.
    """
    vocabulary: dict[str, int] = {}
    add = vocabulary.setdefault
    indptr = [0]
    indices: list[int] = []
    for text in texts:
        indices.extend([add(term, len(vocabulary)) for term in analyze(text)])
        indptr.append(len(indices))
    n_docs = len(texts)
    counts = sparse.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), np.asarray(indices, dtype=np.int64), indptr),
        shape=(n_docs, max(len(vocabulary), 1)),
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    max_docs = 0.5 * n_docs if n_docs >= 20 else float(n_docs)
    keep = (df <= max_docs) & (df > 0)
    if not keep.any():  # empty vocabulary: only stop words, or nothing at all
        empty = sparse.csr_matrix((n_docs, 1), dtype=np.float32)
        return {}, np.ones(1, dtype=np.float32), empty
    column = np.cumsum(keep) - 1
    terms = list(vocabulary)
    kept = np.flatnonzero(keep)
    vocabulary = {terms[i]: int(column[i]) for i in kept.tolist()}
    matrix = sparse.csr_matrix(counts[:, kept], dtype=np.float32)
    idf = (np.log((1.0 + n_docs) / (1.0 + df[kept])) + 1.0).astype(np.float32)
    matrix.data = (1.0 + np.log(matrix.data)) * idf[matrix.indices]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0).astype(np.float32)
    matrix.data *= np.repeat(scale, np.diff(matrix.indptr))
    return vocabulary, idf, matrix


def fit_edition(
    papers: Sequence[CandidatePaper],
    *,
    half_life_days: float = 7.0,
    reference_time: datetime | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
) -> EditionModel:
    """Fit the text model and static signals on the edition's candidates (once).

    `vectors` are the candidates' stored sentence embeddings by arXiv id, if any.
    """
    papers = list(papers)
    texts = [p.text for p in papers]
    vocabulary, idf, matrix = fit_tfidf(texts)

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

    dense = candidate_matrix([p.arxiv_id for p in papers], vectors) if vectors else None
    similarity = None
    if len(papers) <= DENSE_SIMILARITY_LIMIT:
        similarity = np.asarray((matrix @ matrix.T).toarray(), dtype=np.float32)
    return EditionModel(
        papers=papers,
        index={p.arxiv_id: i for i, p in enumerate(papers)},
        vocabulary=vocabulary,
        idf=idf,
        matrix=matrix,
        trending=trending,
        recency=recency,
        category_index=category_index,
        category_matrix=category_matrix,
        phrases=PhraseIndex(texts),
        title_phrases=PhraseIndex([p.title for p in papers]),
        reference_time=reference,
        dense=dense[0] if dense else None,
        dense_known=dense[1] if dense else None,
        dense_mean=dense[2] if dense else None,
        _similarity=similarity,
    )
