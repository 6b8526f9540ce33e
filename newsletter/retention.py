"""Forget what is no longer needed: old SES events, ingest runs and sent deliveries.

Run daily (task `prune_old_rows`, beat entry `prune-old-rows`). Each table is pruned
in batches of BATCH rows, one transaction per batch, so a first
run over years of rows never holds a long lock and can stop halfway, losing only time.

What is kept, and why:
- SES events: NEWSLETTER_RETENTION_EVENT_DAYS (14), like warehouse's; bounces and
  complaints as long as deliveries, because the bounce and complaint rates of the last
  30 days count them.
- Ingest runs and sent deliveries: NEWSLETTER_RETENTION_DAYS (90, at least 31: the
  rates' denominators are sent deliveries). Deliveries in any other state stay: they
  are work to finish or failures an operator may still look at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from newsletter.config import Settings, get_settings
from newsletter.db import session_scope
from newsletter.metrics import PRUNED_ROWS
from newsletter.models import Delivery, DeliveryState, EmailEvent, IngestRun
from newsletter.timeutil import utcnow

log = logging.getLogger(__name__)

# Event types the 30-day rates need (as newsletter.subscriptions.bounces stores them).
RATE_EVENTS = ("bounce", "complaint")
# Rows deleted per transaction: short enough never to hold locks for long.
BATCH = 5000


@dataclass(frozen=True)
class Rule:
    """Delete rows of `table` matching `where` (ids read first, then deleted by id)."""

    table: str
    id_column: InstrumentedAttribute[int]
    where: ColumnElement[bool]


def rules(settings: Settings, now: datetime) -> list[Rule]:
    """The retention rules in force at `now`."""
    events_before = now - timedelta(days=settings.retention.event_days)
    long_before = now - timedelta(days=settings.retention.days)
    return [
        Rule(
            "email_events",
            EmailEvent.id,
            (EmailEvent.received_at < events_before) & EmailEvent.event_type.not_in(RATE_EVENTS),
        ),
        Rule("email_events", EmailEvent.id, EmailEvent.received_at < long_before),
        Rule("ingest_runs", IngestRun.id, IngestRun.started_at < long_before),
        Rule(
            "deliveries",
            Delivery.id,
            (Delivery.state == DeliveryState.SENT) & (Delivery.sent_at < long_before),
        ),
    ]


def prune(now: datetime | None = None, batch: int | None = None) -> dict[str, int]:
    """Delete rows past their retention, in batches; return the rows deleted per table."""
    settings = get_settings()
    now = now or utcnow()
    size = batch or BATCH
    deleted: dict[str, int] = {}
    for rule in rules(settings, now):
        count = _prune_rule(rule, size)
        deleted[rule.table] = deleted.get(rule.table, 0) + count
        if count:
            PRUNED_ROWS.labels(rule.table).inc(count)
    log.info("pruned old rows: %s", ", ".join(f"{k} {v}" for k, v in deleted.items()))
    return deleted


def _prune_rule(rule: Rule, size: int) -> int:
    total = 0
    model: Any = rule.id_column.class_
    while True:
        with session_scope() as session:
            ids = list(
                session.scalars(
                    select(rule.id_column).where(rule.where).order_by(rule.id_column).limit(size)
                )
            )
            if not ids:
                return total
            session.execute(
                delete(model)
                .where(rule.id_column.in_(ids))
                .execution_options(synchronize_session=False)
            )
        total += len(ids)
        if len(ids) < size:
            return total
