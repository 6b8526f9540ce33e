"""Unit-of-work entry points: each opens its own transaction and takes only plain values.

Celery tasks and the CLI call these, so a task body is one line and the same code runs
in-process on the embedded default.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

import redis
import sqlalchemy.exc

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import breaker, state
from newsletter.delivery.backends import make_limiter, make_sender
from newsletter.delivery.base import Sender, TransientSendError
from newsletter.delivery.ratelimit import RateLimiter, RateLimitTimeout
from newsletter.delivery.send import Outcome, compose_chunk, send_composed
from newsletter.pipeline import chunked, pick_papers, plan_due

__all__ = ["backoff", "chunked", "embed", "expire", "ingest", "pick", "plan", "send", "sweep"]

log = logging.getLogger(__name__)

# Errors worth retrying a task for: the provider said "later", or the database or
# Redis connection dropped (the claim makes running the task again safe).
RETRYABLE_SEND: tuple[type[Exception], ...] = (TransientSendError, RateLimitTimeout)
RETRYABLE_INFRA: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

_sender: Sender | None = None
_limiter: RateLimiter | None = None


def sender() -> Sender:
    """Return this process's sender (clients and connections are reused across tasks)."""
    global _sender
    if _sender is None:
        _sender = make_sender(get_settings())
    return _sender


def limiter() -> RateLimiter:
    """Return this process's rate limiter (the bucket itself is shared through Redis)."""
    global _limiter
    if _limiter is None:
        _limiter = make_limiter(get_settings(), sender())
    return _limiter


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Seconds before retry number `retries`: exponential, capped, with jitter.

    The jitter spreads the workers that were throttled together, so they do not all come
    back in the same instant and get throttled again.
    """
    cap = get_settings().send_retry_max_seconds
    ceiling = min(cap, 2.0 ** min(retries, 20))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, min(cap, retry_after or 0.0))


def ingest(source: str, **options: Any) -> dict[str, Any]:
    """Fetch one source (sample, arxiv, arxiv-rss, hf, oai) and store it; return the counts.

    Options are plain values (categories, from_file, date, days, ...): see
    `newsletter.ingest.service.run_ingest`. Every call records an IngestRun.
    """
    from newsletter.ingest.service import run_ingest

    return run_ingest(source, **options)


def plan(now: datetime | None = None) -> list[int]:
    with session_scope() as session:
        return plan_due(session, now)


def embed(limit: int | None = None) -> dict[str, Any]:
    """Embed papers and readers' texts that have no vector yet, if embeddings are on.

    Each batch of papers is its own transaction, so a crash or a redeploy keeps the
    work done. Returns counts (and the model's name), or {"enabled": False}.
    """
    from newsletter.ranking.embedder import configured_embedder
    from newsletter.ranking.vectors import BATCH, embed_papers_batch, embed_texts, reader_texts

    embedder = configured_embedder()
    if embedder is None:
        return {"enabled": False, "papers": 0, "texts": 0}
    started = time.perf_counter()
    papers = 0
    while limit is None or papers < limit:
        size = BATCH if limit is None else min(BATCH, limit - papers)
        with session_scope() as session:
            done = embed_papers_batch(session, embedder, size)
        papers += done
        if done < size:
            break
    with session_scope() as session:
        texts = embed_texts(session, embedder, reader_texts(session))
    seconds = round(time.perf_counter() - started, 2)
    if papers or texts:
        log.info(
            "embedded %d papers and %d reader texts with %s in %.1fs",
            papers, texts, embedder.name, seconds,
        )  # fmt: skip
    return {
        "enabled": True,
        "model": embedder.name,
        "papers": papers,
        "texts": texts,
        "seconds": seconds,
    }


def pick(delivery_ids: list[int], now: datetime | None = None) -> list[int]:
    with session_scope() as session:
        return pick_papers(session, delivery_ids, now)


def send(delivery_ids: list[int]) -> dict[str, int]:
    """Send each delivery in turn; a retryable error stops the chunk and propagates.

    When sending is paused (breaker open) the rest of the chunk stays pending and
    nothing is retried: resuming, or the window freeing up, puts them back on the queue.
    """
    counts = {outcome.value: 0 for outcome in Outcome}
    with session_scope() as session:
        if breaker.is_open(session):
            counts[Outcome.PAUSED] = len(delivery_ids)
            return counts
    the_sender, the_limiter = sender(), limiter()
    started = time.perf_counter()
    composed = compose_chunk(delivery_ids)
    rendered = time.perf_counter()
    try:
        _send_composed_chunk(delivery_ids, composed, counts, the_sender, the_limiter)
    finally:
        # One line per chunk: where the time went (bench/bench_e2e.py reads it too).
        log.info(
            "send chunk of %d: render %.3fs, send %.3fs, %s",
            len(delivery_ids),
            rendered - started,
            time.perf_counter() - rendered,
            {k: v for k, v in counts.items() if v},
        )
    return counts


def _send_composed_chunk(
    delivery_ids: list[int],
    composed: dict[int, Any],
    counts: dict[str, int],
    the_sender: Sender,
    the_limiter: RateLimiter,
) -> None:
    for n, delivery_id in enumerate(delivery_ids):
        email = composed[delivery_id]
        outcome = (
            email if isinstance(email, Outcome) else send_composed(email, the_sender, the_limiter)
        )
        if outcome == Outcome.PAUSED:
            counts[Outcome.PAUSED] += len(delivery_ids) - n
            break
        counts[outcome.value] += 1


def sweep(*, everything: bool = False) -> list[int]:
    """Expire stuck claims and return pending rows whose task messages were lost.

    `everything` returns every pending row (the in-process runner has no queue that
    could still hold them). Nothing is returned while sending is paused.
    """
    with session_scope() as session:
        expired = state.expire_leases(session)
        if expired:
            log.error("%d deliveries became uncertain (lease expired while sending)", expired)
    with session_scope() as session:
        if breaker.is_open(session):
            return []
        if everything:
            return state.pending_ids(session)
        older = timedelta(seconds=get_settings().requeue_after_seconds)
        return state.stale_pending(session, older)


def expire() -> int:
    with session_scope() as session:
        return state.expire_leases(session)
