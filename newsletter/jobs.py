"""Unit-of-work entry points: each opens its own transaction and takes only plain values.

Celery tasks and the CLI call these, so a task body is one line and the same code runs
in-process on the embedded default.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import state
from newsletter.delivery.backends import make_sender
from newsletter.delivery.base import Sender
from newsletter.delivery.send import Outcome, send_delivery
from newsletter.pipeline import chunked, pick_papers, plan_due

__all__ = ["chunked", "expire", "ingest", "pick", "plan", "send"]

log = logging.getLogger(__name__)

_sender: Sender | None = None


def sender() -> Sender:
    """Return this process's sender (clients and connections are reused across tasks)."""
    global _sender
    if _sender is None:
        _sender = make_sender(get_settings())
    return _sender


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


def pick(delivery_ids: list[int], now: datetime | None = None) -> list[int]:
    with session_scope() as session:
        return pick_papers(session, delivery_ids, now)


def send(delivery_ids: list[int]) -> dict[str, int]:
    """Send each delivery in turn; a retryable error stops the chunk and propagates."""
    counts = {outcome.value: 0 for outcome in Outcome}
    the_sender = sender()
    for delivery_id in delivery_ids:
        outcome = send_delivery(delivery_id, the_sender)
        counts[outcome.value] += 1
    return counts


def expire() -> int:
    with session_scope() as session:
        return state.expire_leases(session)
