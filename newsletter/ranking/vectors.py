"""Store sentence embeddings once, read them for ranking: papers and readers' texts.

A paper is embedded once (title + abstract, as the tf-idf sees it) and its vector kept
on its row with the model's name; a keyword or description once for everyone who
wrote it. Vectors of another model are treated as missing, never mixed. Ranking only
reads what is here: a paper or text not embedded yet simply ranks by tf-idf alone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from newsletter.models import (
    Interest,
    InterestKind,
    Paper,
    Subscriber,
    SubscriberStatus,
    TextEmbedding,
)
from newsletter.ranking.embedder import Embedder
from newsletter.ranking.profile import CandidatePaper

log = logging.getLogger(__name__)

# Papers embedded per model call and per transaction: a crash keeps earlier batches.
BATCH = 128
_IN = 500  # ids per IN (...) list


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.float32)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def paper_text(title: str, abstract: str | None) -> str:
    """The text a paper is embedded from: the same as the tf-idf model reads."""
    return CandidatePaper(arxiv_id="", title=title, abstract=abstract or "").text


def finite_rows(vectors: np.ndarray) -> np.ndarray:
    """Replace rows with NaN or infinities by zeros, which ranking reads as "no vector".

    One bad row would otherwise spread through the candidates' mean into every score.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        log.warning("the embedding model returned %d non-finite vectors", int(bad.sum()))
        vectors = np.where(bad[:, None], np.float32(0), vectors)
    return vectors


def embed_papers_batch(session: Session, embedder: Embedder, size: int = BATCH) -> int:
    """Embed up to `size` papers that have no vector of this model, newest first.

    Returns how many were taken (0: all are done). The caller commits. The rows are
    locked while the model runs and other workers skip them (PostgreSQL), so two embed
    tasks share the work instead of doing it twice. A vector is written only if the
    paper's text is still the one embedded: an ingest may revise it meanwhile, and then
    the paper stays without a vector for the next batch.
    """
    rows = session.execute(
        select(Paper.id, Paper.title, Paper.abstract)
        .where(
            Paper.withdrawn.is_(False),
            or_(Paper.embedding.is_(None), Paper.embedding_model.is_distinct_from(embedder.name)),
        )
        .order_by(Paper.published_at.desc().nulls_last(), Paper.id.desc())
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    vectors = finite_rows(
        embedder.encode([paper_text(title, abstract) for _, title, abstract in rows])
    )
    papers = Paper.__table__
    assert isinstance(papers, Table)
    table = papers.c  # Core executemany: a WHERE beyond the primary key
    session.execute(
        update(papers)
        .where(
            table.id == bindparam("pid"),
            table.title == bindparam("seen_title"),
            table.abstract == bindparam("seen_abstract"),
        )
        .values(embedding=bindparam("vector"), embedding_model=embedder.name),
        [
            {"pid": pid, "seen_title": title, "seen_abstract": abstract, "vector": to_bytes(v)}
            for (pid, title, abstract), v in zip(rows, vectors, strict=True)
        ],
    )
    return len(rows)


def reader_texts(session: Session) -> set[str]:
    """Every keyword and description of readers who may get a digest."""
    texts: set[str] = set()
    descriptions: dict[int, list[str]] = {}
    active = (SubscriberStatus.ACTIVE,)
    for sid, kind, value in session.execute(
        select(Interest.subscriber_id, Interest.kind, Interest.value)
        .join(Subscriber, Subscriber.id == Interest.subscriber_id)
        .where(
            Subscriber.status.in_(active),
            Interest.kind.in_([InterestKind.KEYWORD, InterestKind.DESCRIPTION]),
        )
        .order_by(Interest.id)
    ):
        if kind == InterestKind.KEYWORD:
            texts.add(value)
        else:
            descriptions.setdefault(sid, []).append(value)
    # As preferences_of joins them: the description the ranker will look up.
    texts.update(" ".join(parts) for parts in descriptions.values())
    texts.discard("")
    return texts


def embed_texts(session: Session, embedder: Embedder, texts: Iterable[str]) -> int:
    """Embed the texts not stored yet for this model; return how many were new."""
    wanted = {digest(t): t for t in texts if t.strip()}
    if not wanted:
        return 0
    known: set[str] = set()
    keys = sorted(wanted)
    for start in range(0, len(keys), _IN):
        known.update(
            session.scalars(
                select(TextEmbedding.digest).where(
                    TextEmbedding.model == embedder.name,
                    TextEmbedding.digest.in_(keys[start : start + _IN]),
                )
            )
        )
    missing = [key for key in keys if key not in known]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(missing), BATCH):
        batch = missing[start : start + BATCH]
        vectors = finite_rows(embedder.encode([wanted[key] for key in batch]))
        rows = [
            {"model": embedder.name, "digest": key, "text": wanted[key], "vector": to_bytes(v)}
            for key, v in zip(batch, vectors, strict=True)
        ]
        # Two workers may embed the same new keyword at once: the first one wins.
        session.execute(
            insert(TextEmbedding)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["model", "digest"])
        )
    return len(missing)


def paper_vectors(session: Session, ids: Sequence[str], model: str) -> dict[str, np.ndarray]:
    """Stored vectors of these papers made by `model` (papers without one are left out)."""
    out: dict[str, np.ndarray] = {}
    ids = sorted(set(ids))
    for start in range(0, len(ids), _IN):
        for arxiv_id, raw in session.execute(
            select(Paper.arxiv_id, Paper.embedding).where(
                Paper.arxiv_id.in_(ids[start : start + _IN]),
                Paper.embedding_model == model,
                Paper.embedding.is_not(None),
            )
        ):
            if raw is not None:
                out[arxiv_id] = from_bytes(raw)
    return out


def text_vectors(session: Session, texts: Iterable[str], model: str) -> dict[str, np.ndarray]:
    """Stored vectors of these texts made by `model`."""
    by_digest = {digest(t): t for t in texts if t}
    keys = sorted(by_digest)
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(keys), _IN):
        for key, raw in session.execute(
            select(TextEmbedding.digest, TextEmbedding.vector).where(
                TextEmbedding.model == model, TextEmbedding.digest.in_(keys[start : start + _IN])
            )
        ):
            out[by_digest[key]] = from_bytes(raw)
    return out
