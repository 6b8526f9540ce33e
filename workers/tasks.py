"""Thin Celery tasks: take ids, call one newsletter function, safe to run twice.

Each step of the chain is newsletter.chain's; a task only adds what Celery adds
(retries, backoff) and hands the next step to the queues through `chain.Queued`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from newsletter import chain, metrics, retention
from newsletter.config import get_settings
from newsletter.ingest.service import run_ingest
from newsletter.queues import broker, task_name
from newsletter.ranking.embed_job import embed_missing as embed_papers
from newsletter.ranking.embedder import is_off
from newsletter.subscriptions import mail, mail_sweep
from workers.app import app

log = logging.getLogger(__name__)

QUEUED = chain.Queued()


@app.task(name=task_name("ingest_source"), bind=True, max_retries=3)
def ingest_source(self: Any, source: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    result = run_ingest(source, **(options or {}))
    if (result.get("new") or result.get("updated")) and not is_off(get_settings().embeddings):
        broker().enqueue("embed_missing")
    # The run is recorded either way; a timeout or 5xx is worth another try before the
    # next scheduled run (a daily listing missed now would be missed for a day).
    if result.get("transient") and not self.request.is_eager:
        raise self.retry(countdown=300 * 2**self.request.retries)
    return result


@app.task(
    name=task_name("plan_due"),
    autoretry_for=chain.RETRYABLE_INFRA,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
)
def plan_due(now: str | None = None) -> int:
    """Plan who is due, and put back on the queue pending rows whose messages were lost."""
    return chain.plan_step(QUEUED, datetime.fromisoformat(now) if now else None)


@app.task(
    name=task_name("rank_chunk"),
    autoretry_for=chain.RETRYABLE_INFRA,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=None,
)
def rank_chunk(delivery_ids: list[int]) -> int:
    return chain.rank_step(QUEUED, delivery_ids)


@app.task(name=task_name("send_chunk"), bind=True, max_retries=None)
def send_chunk(self: Any, delivery_ids: list[int]) -> dict[str, int]:
    try:
        return chain.send(delivery_ids)
    except (*chain.RETRYABLE_SEND, *chain.RETRYABLE_INFRA) as exc:
        # chain.send stops at the first retryable error and released that row; the rows
        # it had not reached are still pending, so retrying the whole chunk is safe
        # (rows already sent are not claimed again).
        countdown = chain.backoff(self.request.retries, getattr(exc, "retry_after", None))
        log.warning("send chunk retry in %.1fs: %s", countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc


@app.task(name=task_name("expire_leases"))
def expire_leases() -> int:
    return chain.expire()


# Papers per embed task: a few minutes of one process at ~30 abstracts/s, far below the
# broker's visibility timeout, so a task is never redelivered while it still runs and a
# worker that also sends mail is never tied up for long. A full batch queues the next.
EMBED_TASK_PAPERS = 4000


@app.task(
    name=task_name("embed_missing"),
    autoretry_for=chain.RETRYABLE_INFRA,
    retry_backoff=5,
    max_retries=5,
    time_limit=1800,
)
def embed_missing() -> dict[str, Any]:
    """Embed new papers and readers' new texts (after each ingest and on beat's tick)."""
    result = embed_papers(limit=EMBED_TASK_PAPERS)
    if result["papers"] >= EMBED_TASK_PAPERS:
        broker().enqueue("embed_missing")
    return result


@app.task(name=task_name("send_transactional"), bind=True, max_retries=None)
def send_transactional(self: Any, mail_id: int) -> str:
    """Send one confirmation, welcome, goodbye or change-of-address email (claimed once).

    Retried while sending is paused or throttled; the email gives up after a day itself.
    """
    try:
        outcome = mail.send_transactional(mail_id)
    except chain.RETRYABLE_INFRA as exc:
        raise self.retry(exc=exc, countdown=chain.backoff(self.request.retries)) from exc
    metrics.count_send("transactional", outcome)
    if outcome in (mail.MailOutcome.PAUSED, mail.MailOutcome.RETRY):
        raise self.retry(countdown=chain.backoff(self.request.retries))
    return str(outcome)


@app.task(name=task_name("requeue_mail"), autoretry_for=chain.RETRYABLE_INFRA, max_retries=3)
def requeue_mail() -> int:
    """Queue again the transactional emails whose task messages were lost."""
    ids = mail_sweep.sweep()
    for mail_id in ids:
        broker().enqueue("send_transactional", mail_id)
    return len(ids)


@app.task(name=task_name("prune_old_rows"), autoretry_for=chain.RETRYABLE_INFRA, max_retries=3)
def prune_old_rows() -> dict[str, int]:
    """Delete SES events, ingest runs and sent deliveries past their retention (daily)."""
    return retention.prune()
