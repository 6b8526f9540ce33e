"""Rank a chunk of readers from the database and record their picks (the rank step).

Loads what the ranker needs (the edition's fitted model, each reader's interests,
feedback and history, the library papers they point at, stored vectors) in a few
queries per chunk, ranks them in one vectorised pass (newsletter.ranking.score) and
writes each delivery's picks with a conditional update.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.orm import Session

from newsletter.models import (
    Delivery,
    DeliveryState,
    Edition,
    Feedback,
    FeedbackKind,
    Paper,
    Subscriber,
)
from newsletter.ranking.embedder import EmbeddingsUnavailable, configured_model_name
from newsletter.ranking.profile import CandidatePaper, Pick, Profile
from newsletter.ranking.score import DenseVectors, EditionModel, dense_ready, fit_edition, rank
from newsletter.ranking.vectors import from_bytes, paper_vectors, text_vectors
from newsletter.ranking.weights import configured_weights
from newsletter.services import current
from newsletter.subscriptions.service import preferences_of
from newsletter.timeutil import utcnow

log = logging.getLogger(__name__)

HISTORY = timedelta(days=90)
# How many of the most recently sent papers may serve as "sent but not clicked" examples.
LIBRARY_SENT = 32
NOTHING_NEW = "no new papers matched this reader's interests"
# Fitted edition models one process keeps (each a few MB: vocabulary and matrices).
EDITION_MODELS_KEPT = 4


def _vectors_model() -> str | None:
    """The stored vectors to rank with; a model that cannot load never stops a digest."""
    try:
        return configured_model_name()
    except EmbeddingsUnavailable as exc:
        log.error("ranking without embeddings: %s", exc)
        return None


def edition_model(session: Session, edition: Edition) -> EditionModel:
    """Return the edition's fitted text model, fitting it once per worker process.

    With embeddings on, the model is fitted again once more candidates have vectors
    (the embed task may still be running when the edition opens): one count per call.
    """
    vectors_model = _vectors_model()
    embedded = 0
    if vectors_model:
        embedded = (
            session.scalar(
                select(func.count(Paper.id)).where(
                    Paper.arxiv_id.in_(edition.candidate_ids),
                    Paper.embedding_model == vectors_model,
                    Paper.embedding.is_not(None),
                )
            )
            or 0
        )
    # Fitting is the expensive part: once per edition per worker process, not per chunk.
    models = current().cache("edition_models")
    cache_key = (edition.id, len(edition.candidate_ids), embedded)
    model: EditionModel | None = models.get(cache_key)
    if model is None:
        papers = session.scalars(
            select(Paper).where(Paper.arxiv_id.in_(edition.candidate_ids))
        ).all()
        order = {a: i for i, a in enumerate(edition.candidate_ids)}
        model = fit_edition(
            sorted((candidate_of(p) for p in papers), key=lambda c: order[c.arxiv_id]),
            half_life_days=configured_weights().half_life_days,
            vectors=(
                {
                    p.arxiv_id: from_bytes(p.embedding)
                    for p in papers
                    if p.embedding is not None and p.embedding_model == vectors_model
                }
                if vectors_model
                else None
            ),
        )
        # Keep the last few editions' models: a plan across 24 timezones opens two or
        # three daily editions at once, and their chunks interleave on every worker, so
        # keeping only one refitted a model on nearly every chunk. A model fitted on
        # fewer candidates or vectors of the same edition is never needed again.
        for key in [k for k in models if k[0] == edition.id]:
            del models[key]
        while len(models) >= EDITION_MODELS_KEPT:
            del models[next(iter(models))]
        models[cache_key] = model
    return model


def candidate_of(paper: Paper) -> CandidatePaper:
    return CandidatePaper(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract,
        categories=list(paper.categories or []),
        upvotes=paper.upvotes or 0,
        published_at=paper.published_at,
    )


def profiles_for(
    session: Session, subscribers: Sequence[Subscriber], now: datetime
) -> list[Profile]:
    """Build ranking profiles (interests, feedback, papers already sent) for a chunk at once."""
    ids = [s.id for s in subscribers]
    feedback: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    # Oldest first, so the ranker's "most recent N" caps keep the newest feedback.
    for sid, arxiv_id, kind in session.execute(
        select(Feedback.subscriber_id, Feedback.arxiv_id, Feedback.kind)
        .where(Feedback.subscriber_id.in_(ids))
        .order_by(Feedback.created_at, Feedback.id)
    ):
        if arxiv_id not in feedback[sid][kind]:
            feedback[sid][kind].append(arxiv_id)
    sent: dict[int, list[str]] = defaultdict(list)
    for sid, papers in session.execute(
        select(Delivery.subscriber_id, Delivery.papers)
        .where(
            Delivery.subscriber_id.in_(ids),
            Delivery.state.in_(
                [DeliveryState.SENT, DeliveryState.SENDING, DeliveryState.UNCERTAIN]
            ),
            Delivery.created_at >= now - HISTORY,
        )
        .order_by(Delivery.created_at, Delivery.id)
    ):
        sent[sid].extend(p["arxiv_id"] for p in papers or [])
    profiles = []
    for subscriber in subscribers:
        prefs = preferences_of(subscriber)
        fb = feedback[subscriber.id]
        profiles.append(
            Profile(
                keywords=list(prefs.keywords),
                negative_keywords=list(prefs.negative_keywords),
                categories=list(prefs.categories),
                description=prefs.description,
                seed_papers=list(prefs.seed_papers),
                liked=fb[FeedbackKind.LIKED],
                clicked=[a for a in fb[FeedbackKind.CLICKED] if a not in fb[FeedbackKind.LIKED]],
                hidden=fb[FeedbackKind.HIDDEN],
                already_sent=sent[subscriber.id],
            )
        )
    return profiles


def library_for(
    session: Session, profiles: Sequence[Profile], model: EditionModel
) -> dict[str, str]:
    """Load the text of papers the profiles refer to that are not candidates this edition.

    Seeds, liked, clicked, hidden and recently sent papers usually come from earlier
    editions; their text is what lets them steer today's ranking.
    """
    wanted: set[str] = set()
    for profile in profiles:
        for group in (
            profile.seed_papers,
            profile.liked,
            profile.clicked,
            profile.hidden,
            profile.already_sent[-LIBRARY_SENT:],
        ):
            wanted.update(a for a in group if a not in model.index)
    library: dict[str, str] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        for arxiv_id, title, abstract in session.execute(
            select(Paper.arxiv_id, Paper.title, Paper.abstract).where(
                Paper.arxiv_id.in_(ids[start : start + 500])
            )
        ):
            library[arxiv_id] = f"{title}. {abstract or ''}"
    return library


def dense_for(
    session: Session, profiles: Sequence[Profile], model: EditionModel, library: dict[str, str]
) -> DenseVectors | None:
    """Load the stored vectors of the chunk's library papers and readers' texts, if any."""
    name = _vectors_model()
    if name is None or not dense_ready(model):
        return None
    texts = {t for p in profiles for t in p.texts}
    return DenseVectors(
        papers=paper_vectors(session, list(library), name),
        texts=text_vectors(session, texts, name),
    )


def rank_readers(
    session: Session, model: EditionModel, subscribers: Sequence[Subscriber], now: datetime
) -> list[list[Pick]]:
    """Rank the edition for these readers with everything they told us: one place, so
    a preview ranks exactly as the send path does."""
    k = max(s.max_papers for s in subscribers)
    profiles = profiles_for(session, subscribers, now)
    library = library_for(session, profiles, model)
    titles: dict[str, str] = {
        arxiv_id: title
        for arxiv_id, title in session.execute(
            select(Paper.arxiv_id, Paper.title).where(Paper.arxiv_id.in_(list(library)))
        )
    }
    return rank(
        model,
        profiles,
        k,
        weights=configured_weights(),
        library=library,
        dense=dense_for(session, profiles, model, library),
        titles=titles,
    )


def rank_and_record(
    session: Session, delivery_ids: Iterable[int], now: datetime | None = None
) -> list[int]:
    """Rank and record the papers of each pending delivery in the chunk.

    Returns the ids ready to send. A delivery with nothing left to offer is skipped
    rather than sent empty. Running this twice leaves already-picked rows alone.
    """
    now = now or utcnow()
    rows = session.execute(
        select(Delivery, Subscriber)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.state == DeliveryState.PENDING)
        .order_by(Delivery.edition_id, Delivery.id)
    ).all()
    ready: list[int] = []
    by_edition: dict[int, list[tuple[Delivery, Subscriber]]] = defaultdict(list)
    for delivery, subscriber in rows:
        if delivery.papers is not None:
            ready.append(delivery.id)
        else:
            by_edition[delivery.edition_id].append((delivery, subscriber))
    for edition_id, pairs in by_edition.items():
        edition = session.get_one(Edition, edition_id)
        model = edition_model(session, edition)
        subscribers = [s for _, s in pairs]
        all_picks = rank_readers(session, model, subscribers, now)
        chosen = {
            delivery.id: [p.as_dict() for p in picks[: subscriber.max_papers]]
            for (delivery, subscriber), picks in zip(pairs, all_picks, strict=True)
        }
        recorded = record_picks(session, chosen, now)
        ready.extend(i for i in recorded if chosen[i])
        for delivery, _ in pairs:
            # The rows changed under the ORM's feet: reload them if touched again.
            session.expire(delivery)
    return sorted(ready)


def record_picks(
    session: Session, chosen: dict[int, list[dict[str, Any]]], now: datetime
) -> set[int]:
    """Write a chunk's picks in one statement, only on rows still pending and unpicked.

    Returns the ids written. A delivery with nothing to offer becomes `skipped`. A
    duplicate pick task (a redelivered message) may have read a row before another
    worker picked and sent it: the conditional update keeps a plain write from turning
    `sent` back into `skipped`. One statement per chunk, not one per reader: a round
    trip per row cost more than ranking the reader did.
    """
    if not chosen:
        return set()
    values: dict[str, Any] = {
        "papers": case(
            {i: literal(picks, Delivery.papers.type) for i, picks in chosen.items()},
            value=Delivery.id,
        ),
        "updated_at": now,
    }
    empty = [i for i, picks in chosen.items() if not picks]
    if empty:
        values |= {
            "state": case(
                {i: literal(DeliveryState.SKIPPED.value) for i in empty},
                value=Delivery.id,
                else_=Delivery.state,
            ),
            "last_error": case(
                {i: literal(NOTHING_NEW) for i in empty},
                value=Delivery.id,
                else_=Delivery.last_error,
            ),
        }
    written = session.scalars(
        update(Delivery)
        .where(
            Delivery.id.in_(list(chosen)),
            Delivery.state == DeliveryState.PENDING,
            Delivery.papers.is_(None),
        )
        .values(**values)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return set(written)


def _record_picks(
    session: Session, delivery_id: int, chosen: list[dict[str, Any]], now: datetime
) -> bool:
    """Write one delivery's picks (see `record_picks`); False if the row moved on."""
    return delivery_id in record_picks(session, {delivery_id: chosen}, now)
