"""Related papers: nearest neighbours in the ranking's tf-idf space over recent papers.

The words are the ranking's own (`newsletter.ranking.model.analyze`: words and word
pairs, stop words dropped, sublinear tf); scikit-learn fits the idf over the most
recent papers once per process and refits when the model is older than REFIT_SECONDS,
so a paper page costs one sparse product, not a fit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter import services
from newsletter.models import Paper
from newsletter.ranking.model import analyze
from newsletter.ranking.profile import CandidatePaper
from newsletter.site.cards import Card, cards_by_id

WINDOW = 4000  # most recent papers the neighbours are drawn from
REFIT_SECONDS = 15 * 60
MIN_SIMILARITY = 0.05
_lock = threading.Lock()


@dataclass(frozen=True)
class RelatedModel:
    built: float
    ids: list[str]
    rows: dict[str, int]
    vectorizer: TfidfVectorizer
    matrix: sparse.csr_matrix


def fit_related(texts_by_id: list[tuple[str, str]]) -> RelatedModel:
    """Fit the neighbour model over (arxiv_id, text) pairs."""
    # min_df=2: a word pair seen in one paper only cannot link two papers, and dropping
    # them keeps the vocabulary (held by every web process) a tenth of its size.
    vectorizer = TfidfVectorizer(
        analyzer=analyze, sublinear_tf=True, min_df=2, max_df=0.5, dtype=np.float32
    )
    ids = [arxiv_id for arxiv_id, _ in texts_by_id]
    try:
        matrix = vectorizer.fit_transform([text for _, text in texts_by_id]).tocsr()
    except ValueError:  # too few papers, or only stop words: no neighbours at all
        matrix = sparse.csr_matrix((len(ids), 0), dtype=np.float32)
    return RelatedModel(
        time.monotonic(), ids, {i: n for n, i in enumerate(ids)}, vectorizer, matrix
    )


def _build(session: Session) -> RelatedModel:
    rows = session.execute(
        select(Paper.arxiv_id, Paper.title, Paper.abstract)
        .where(Paper.withdrawn.is_(False))
        .order_by(Paper.published_at.desc().nulls_last(), Paper.id.desc())
        .limit(WINDOW)
    ).all()
    return fit_related(
        [(r.arxiv_id, CandidatePaper(r.arxiv_id, r.title, r.abstract or "").text) for r in rows]
    )


def related_model(session: Session) -> RelatedModel:
    """This process's model, fitted on first use and again once it is REFIT_SECONDS old."""
    cache = services.current().cache("site.related")
    model = cache.get("model")
    if model is None or time.monotonic() - model.built > REFIT_SECONDS:
        with _lock:  # one fit at a time; the others wait and reuse it
            model = cache.get("model")
            if model is None or time.monotonic() - model.built > REFIT_SECONDS:
                model = cache["model"] = _build(session)
    return model


def neighbours(model: RelatedModel, arxiv_id: str, text: str, k: int) -> list[str]:
    """The ids of the `k` papers closest to this one (never itself), most similar first."""
    if model.matrix.shape[1] == 0:
        return []
    row = model.rows.get(arxiv_id)
    vector = model.matrix[row] if row is not None else model.vectorizer.transform([text])
    scores = np.asarray((model.matrix @ vector.T).todense()).ravel()
    if row is not None:
        scores[row] = -1.0
    best = np.argsort(-scores, kind="stable")[:k]
    return [model.ids[i] for i in best if scores[i] >= MIN_SIMILARITY]


def related_papers(
    session: Session, arxiv_id: str, title: str, abstract: str, k: int = 6
) -> list[Card]:
    """Cards of the papers most like this one among the recent ones."""
    text = CandidatePaper(arxiv_id, title, abstract).text
    return cards_by_id(session, neighbours(related_model(session), arxiv_id, text, k))
