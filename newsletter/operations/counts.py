"""Counts and recent rows the operator views show (part of newsletter.monitoring)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.models import Delivery, DeliveryState, Edition, EmailEvent, IngestRun, Subscriber
from newsletter.timeutil import as_utc


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def sent_since(session: Session, since: datetime) -> int:
    return _count(
        session,
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.state == DeliveryState.SENT, Delivery.sent_at >= since),
    )


def events_since(
    session: Session, event_type: str, since: datetime, detail_prefix: str = ""
) -> int:
    query = (
        select(func.count())
        .select_from(EmailEvent)
        .where(EmailEvent.event_type == event_type, EmailEvent.received_at >= since)
    )
    if detail_prefix:
        query = query.where(EmailEvent.detail.like(f"{detail_prefix}%"))
    return _count(session, query)


def grouped_counts(session: Session, column: Any) -> dict[str, int]:
    return {
        str(k): int(v) for k, v in session.execute(select(column, func.count()).group_by(column))
    }


def recent_failures(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Delivery, Subscriber.email, Edition.key)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.state.in_([DeliveryState.FAILED, DeliveryState.UNCERTAIN]))
        .order_by(Delivery.updated_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "delivery_id": d.id,
            "edition": key,
            "email": email,
            "state": d.state,
            "attempts": d.attempts,
            "error": (d.last_error or "")[:300],
            "updated_at": as_utc(d.updated_at),
        }
        for d, email, key in rows
    ]


def recent_ingest_runs(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    runs = session.scalars(select(IngestRun).order_by(IngestRun.started_at.desc()).limit(limit))
    return [
        {
            "id": r.id,
            "source": r.source,
            "started_at": as_utc(r.started_at),
            "finished_at": as_utc(r.finished_at) if r.finished_at else None,
            "fetched": r.fetched,
            "new": r.new,
            "updated": r.updated,
            "skipped": r.skipped,
            "problems": len(r.problems or []),
            "error": (r.error or "")[:300] or None,
        }
        for r in runs
    ]


def recent_bad_addresses(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    """List the latest bounce and complaint events (what suppressed whom, and why)."""
    events = session.scalars(
        select(EmailEvent)
        .where(EmailEvent.event_type.in_(["bounce", "complaint"]))
        .order_by(EmailEvent.received_at.desc(), EmailEvent.id.desc())
        .limit(limit)
    )
    return [
        {
            "type": e.event_type,
            "recipient": e.recipient,
            "detail": (e.detail or "")[:300],
            "received_at": as_utc(e.received_at),
        }
        for e in events
    ]
