"""The rankers bench/eval_ranking.py compares: simple baselines and the anchors.

Each takes the edition model and one profile and returns the arXiv ids of its top
K picks (never the reader's own seed, liked or hidden papers). The final blend itself is
`newsletter.ranking.score.rank`, called by the evaluation for all profiles at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.svm import LinearSVC

from newsletter.ranking.dense import DenseVectors
from newsletter.ranking.model import EditionModel
from newsletter.ranking.phrases import words
from newsletter.ranking.profile import Profile

K = 10

Ranker = Callable[[EditionModel, Profile], list[str]]


def _own(profile: Profile) -> set[str]:
    return {*profile.seed_papers, *profile.liked, *profile.hidden}


def top(model: EditionModel, scores: np.ndarray, profile: Profile) -> list[str]:
    """Return the K best-scored papers the reader did not name themselves."""
    own = _own(profile)
    order = np.argsort(-scores, kind="stable")
    return [model.papers[i].arxiv_id for i in order if model.papers[i].arxiv_id not in own][:K]


def _library(profile: Profile) -> list[str]:
    return [*profile.seed_papers, *profile.liked]


def trending(model: EditionModel, profile: Profile) -> list[str]:
    return top(model, np.array([p.upvotes for p in model.papers], dtype=float), profile)


def keyword_match(model: EditionModel, profile: Profile) -> list[str]:
    phrases = list(profile.keywords)
    texts = [profile.description]
    texts += [model.papers[model.index[a]].title for a in _library(profile)]
    for text in texts:
        phrases += [w for w in words(text) if w not in ENGLISH_STOP_WORDS and len(w) > 2]
    found = model.phrases.matches(sorted(set(phrases))).sum(axis=0).astype(float)
    upvotes = np.array([p.upvotes for p in model.papers], dtype=float)
    return top(model, found + upvotes / (upvotes.max() + 1), profile)


def tfidf_scores(model: EditionModel, profile: Profile) -> np.ndarray:
    parts = [*profile.keywords, profile.description]
    parts += [model.papers[model.index[a]].text for a in _library(profile)]
    query = model.vectors_for([" ".join(parts)])
    return np.asarray((query @ model.matrix.T).toarray()[0])


def tfidf_cosine(model: EditionModel, profile: Profile) -> list[str]:
    """One query vector (keywords + description + seed/liked texts): what most tools do."""
    return top(model, tfidf_scores(model, profile), profile)


def arxiv_sanity(model: EditionModel, profile: Profile) -> list[str]:
    """arxiv-sanity-lite: its own tf-idf settings and a LinearSVC on the reader's papers."""
    texts = [p.text for p in model.papers]
    vectorizer = TfidfVectorizer(
        input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
        lowercase=True, analyzer="word", stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
        max_df=0.1, min_df=1,
    )  # fmt: skip
    x = vectorizer.fit_transform(texts)
    positives = [model.index[a] for a in _library(profile)]
    if positives:
        y = np.zeros(len(texts))
        y[positives] = 1
        svm = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
        scores = svm.fit(x, y).decision_function(x)
    else:  # its search box: the reader's words as a query
        query = vectorizer.transform([" ".join([*profile.keywords, profile.description])])
        scores = (x @ query.T).toarray()[:, 0]
    return top(model, scores, profile)


def _matrix(model: EditionModel, dense: DenseVectors) -> np.ndarray:
    return np.stack([dense.papers[p.arxiv_id] for p in model.papers])


def dense_alone(dense: DenseVectors) -> Ranker:
    """MiniLM only: the best cosine of any one keyword, description, seed or liked paper."""

    def ranker(model: EditionModel, profile: Profile) -> list[str]:
        matrix = _matrix(model, dense)
        queries = [dense.texts[t] for t in [*profile.keywords, profile.description] if t]
        queries += [dense.papers[a] for a in _library(profile)]
        return top(model, (matrix @ np.stack(queries).T).max(axis=1), profile)

    return ranker


def zotero(dense: DenseVectors) -> Ranker:
    """zotero-arxiv-daily: embedding cosine to the library, recent items weighted more."""

    def ranker(model: EditionModel, profile: Profile) -> list[str]:
        matrix = _matrix(model, dense)
        library = _library(profile)
        if library:
            # Newest first, as its Zotero library is sorted by date added.
            ordered = list(reversed(library))
            weights = np.array([1 / (1 + math.log10(i + 1)) for i in range(len(ordered))])
            sims = np.stack([matrix @ dense.papers[a] for a in ordered])
            scores = (weights[:, None] * sims).sum(axis=0) / weights.sum()
        else:
            texts = [*profile.keywords, profile.description]
            query = np.mean([dense.texts[t] for t in texts if t], axis=0)
            scores = matrix @ (query / np.linalg.norm(query))
        return top(model, scores, profile)

    return ranker


def ndcg(ranked: list[str], judged: dict[str, int], k: int = K) -> float:
    gain = sum((2 ** judged.get(a, 0) - 1) / math.log2(i + 2) for i, a in enumerate(ranked[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return gain / best if best else 0.0


def precision(ranked: list[str], judged: dict[str, int], k: int = 5) -> float:
    return sum(1 for a in ranked[:k] if judged.get(a, 0) > 0) / k
