"""Thin Celery tasks: take ids, call one newsletter.* function, safe to run twice."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from newsletter import jobs
from newsletter.delivery.base import AccountSendError, TransientSendError
from workers.app import app

log = logging.getLogger(__name__)


@app.task(name="workers.tasks.ingest_source")
def ingest_source(source: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return jobs.ingest(source, **(options or {}))


@app.task(name="workers.tasks.plan_due")
def plan_due(now: str | None = None) -> int:
    ids = jobs.plan(datetime.fromisoformat(now) if now else None)
    # Enqueue only after plan() committed: a worker must find the rows it is told about.
    for chunk in jobs.chunked(ids):
        pick_chunk.delay(chunk)
    return len(ids)


@app.task(name="workers.tasks.pick_chunk")
def pick_chunk(delivery_ids: list[int]) -> int:
    ready = jobs.pick(delivery_ids)
    if ready:
        send_chunk.delay(ready)
    return len(ready)


@app.task(
    name="workers.tasks.send_chunk",
    bind=True,
    max_retries=None,
    autoretry_for=(),
)
def send_chunk(self: Any, delivery_ids: list[int]) -> dict[str, int]:
    try:
        return jobs.send(delivery_ids)
    except (TransientSendError, AccountSendError) as exc:
        # jobs.send stops at the first retryable error and released that row; the rows
        # it had not reached are still pending, so retrying the whole chunk is safe.
        countdown = getattr(exc, "retry_after", None) or min(300, 2 ** min(self.request.retries, 8))
        log.warning("send chunk retry in %ss: %s", countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc


@app.task(name="workers.tasks.expire_leases")
def expire_leases() -> int:
    return jobs.expire()
