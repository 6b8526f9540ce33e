"""Thin Celery tasks: take ids, call one newsletter.* function, safe to run twice."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from newsletter import jobs
from workers.app import app

log = logging.getLogger(__name__)


@app.task(name="workers.tasks.ingest_source", bind=True, max_retries=3)
def ingest_source(self: Any, source: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    result = jobs.ingest(source, **(options or {}))
    if result.get("new") or result.get("updated"):
        embed_missing.delay()  # a no-op unless NEWSLETTER_EMBEDDINGS is on
    # The run is recorded either way; a timeout or 5xx is worth another try before the
    # next scheduled run (a daily listing missed now would be missed for a day).
    if result.get("transient") and not self.request.is_eager:
        raise self.retry(countdown=300 * 2**self.request.retries)
    return result


@app.task(
    name="workers.tasks.plan_due",
    bind=True,
    autoretry_for=jobs.RETRYABLE_INFRA,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
)
def plan_due(self: Any, now: str | None = None, sweep_all: bool = False) -> int:
    """Plan who is due, and put back on the queue pending rows whose messages were lost."""
    ids = jobs.plan(datetime.fromisoformat(now) if now else None)
    stale = jobs.sweep(everything=sweep_all)
    # Enqueue only after plan() committed: a worker must find the rows it is told about.
    for chunk in jobs.chunked(sorted(set(ids) | set(stale))):
        pick_chunk.delay(chunk)
    return len(ids)


@app.task(
    name="workers.tasks.pick_chunk",
    bind=True,
    autoretry_for=jobs.RETRYABLE_INFRA,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=None,
)
def pick_chunk(self: Any, delivery_ids: list[int]) -> int:
    ready = jobs.pick(delivery_ids)
    if ready:
        send_chunk.delay(ready)
    return len(ready)


@app.task(name="workers.tasks.send_chunk", bind=True, max_retries=None)
def send_chunk(self: Any, delivery_ids: list[int]) -> dict[str, int]:
    try:
        return jobs.send(delivery_ids)
    except (*jobs.RETRYABLE_SEND, *jobs.RETRYABLE_INFRA) as exc:
        # jobs.send stops at the first retryable error and released that row; the rows
        # it had not reached are still pending, so retrying the whole chunk is safe
        # (rows already sent are not claimed again).
        if self.request.is_eager:
            # In-process: no queue to wait on; the rows stay pending for the next run.
            log.warning("send stopped (%s); pending rows go out on the next run", exc)
            return {"retry_later": len(delivery_ids)}
        countdown = jobs.backoff(self.request.retries, getattr(exc, "retry_after", None))
        log.warning("send chunk retry in %.1fs: %s", countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc


@app.task(name="workers.tasks.expire_leases")
def expire_leases() -> int:
    return jobs.expire()


# Papers per embed task: a few minutes of one process at ~30 abstracts/s, far below the
# broker's visibility timeout, so a task is never redelivered while it still runs and a
# worker that also sends mail is never tied up for long. A full batch queues the next.
EMBED_TASK_PAPERS = 4000


@app.task(
    name="workers.tasks.embed_missing",
    autoretry_for=jobs.RETRYABLE_INFRA,
    retry_backoff=5,
    max_retries=5,
    time_limit=1800,
)
def embed_missing() -> dict[str, Any]:
    """Embed new papers and readers' new texts (after each ingest and on beat's tick)."""
    result = jobs.embed(limit=EMBED_TASK_PAPERS)
    if result["papers"] >= EMBED_TASK_PAPERS:
        embed_missing.delay()
    return result
