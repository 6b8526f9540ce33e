"""Score candidates for many readers at once: tf-idf relevance blended with trending.

The text model is fitted once per edition (`EditionModel`), then each chunk of readers
is scored with one sparse matrix product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from newsletter.ranking.profile import CandidatePaper, Pick, Profile

RELEVANCE_WEIGHT = 1.0
TRENDING_WEIGHT = 0.15
CATEGORY_WEIGHT = 0.1


@dataclass
class EditionModel:
    """The per-edition state: fitted vectoriser and paper matrix."""

    papers: list[CandidatePaper]
    vectorizer: TfidfVectorizer
    matrix: sparse.csr_matrix
    trending: np.ndarray
    index: dict[str, int]


def fit_edition(papers: Sequence[CandidatePaper]) -> EditionModel:
    """Fit the text model on the edition's candidates (once, not per reader)."""
    papers = list(papers)
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, stop_words="english", min_df=1, max_df=0.5
    )
    texts = [p.text for p in papers] or [""]
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # empty vocabulary (no candidates, or only stop words)
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        matrix = vectorizer.fit_transform([" ".join(texts) or "empty"])
    upvotes = np.array([max(p.upvotes, 0) for p in papers], dtype=np.float64)
    top = math.log1p(upvotes.max()) if len(upvotes) and upvotes.max() > 0 else 1.0
    trending = np.log1p(upvotes) / top
    return EditionModel(
        papers=papers,
        vectorizer=vectorizer,
        matrix=sparse.csr_matrix(matrix),
        trending=trending,
        index={p.arxiv_id: i for i, p in enumerate(papers)},
    )


def _query_text(profile: Profile, model: EditionModel) -> str:
    parts = [*profile.keywords, *profile.keywords, profile.description]
    for arxiv_id in [*profile.seed_papers, *profile.liked]:
        i = model.index.get(arxiv_id)
        if i is not None:
            parts.append(model.papers[i].text)
    return " ".join(p for p in parts if p)


def rank(model: EditionModel, profiles: Sequence[Profile], k: int) -> list[list[Pick]]:
    """Return the top `k` picks for each profile, best first, with a reason for each."""
    if not model.papers or not profiles:
        return [[] for _ in profiles]
    queries = model.vectorizer.transform([_query_text(p, model) for p in profiles])
    relevance = (queries @ model.matrix.T).toarray()
    scores = RELEVANCE_WEIGHT * relevance + TRENDING_WEIGHT * model.trending[None, :]
    picks: list[list[Pick]] = []
    for row, profile in enumerate(profiles):
        wanted = set(profile.categories)
        excluded = set(profile.hidden) | set(profile.already_sent)
        for col, paper in enumerate(model.papers):
            if wanted and wanted.intersection(paper.categories):
                scores[row, col] += CATEGORY_WEIGHT
            if paper.arxiv_id in excluded or _has_negative(paper, profile):
                scores[row, col] = -np.inf
        order = np.argsort(-scores[row], kind="stable")[:k]
        picks.append(
            [
                Pick(model.papers[c].arxiv_id, float(scores[row, c]), _reason(model, profile, c))
                for c in order
                if np.isfinite(scores[row, c])
            ]
        )
    return picks


def _has_negative(paper: CandidatePaper, profile: Profile) -> bool:
    text = paper.text.lower()
    return any(word.lower() in text for word in profile.negative_keywords)


def _reason(model: EditionModel, profile: Profile, col: int) -> str:
    paper = model.papers[col]
    text = paper.text.lower()
    matched = [k for k in profile.keywords if k.lower() in text]
    parts = []
    if matched:
        parts.append("matches " + ", ".join(f"'{k}'" for k in matched[:2]))
    shared = [c for c in paper.categories if c in profile.categories]
    if shared:
        parts.append(f"in {shared[0]}")
    if paper.upvotes:
        parts.append(f"{paper.upvotes} upvotes")
    return ", ".join(parts) or "trending today"
