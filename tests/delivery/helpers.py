"""Readers and deliveries ready to send, for the delivery and fault tests."""

from __future__ import annotations

import email
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, insert, select

from newsletter import chain
from newsletter.db import session_scope
from newsletter.ingest.service import run_ingest
from newsletter.models import Delivery, Interest, Subscriber, SubscriberStatus

T = TypeVar("T")

# 24 zones spread around the clock (whole and half-hour offsets, both hemispheres).
ZONES = [
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
]

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def add_readers(
    count: int, *, prefix: str = "reader", zones: list[str] = ZONES, fmt: str = "html"
) -> list[int]:
    """Insert `count` active readers, send hour 0 (due whenever planned), across `zones`.

    Bulk inserts in batches (a bench adds 100,000): two statements per 5,000 readers.
    """
    ids: list[int] = []
    with session_scope() as session:
        for start in range(0, count, 5000):
            rows = [
                {
                    "email": f"{prefix}{n:05d}@example.org",
                    "status": SubscriberStatus.ACTIVE,
                    "timezone": zones[n % len(zones)],
                    "send_hour": 0,
                    "max_papers": 3,
                    "format": fmt,
                    "created_at": LONG_AGO,
                    "confirmed_at": LONG_AGO,
                }
                for n in range(start, min(count, start + 5000))
            ]
            new = list(session.scalars(insert(Subscriber).returning(Subscriber.id), rows))
            session.execute(
                insert(Interest),
                [
                    {"subscriber_id": sid, "kind": "keyword", "value": value}
                    for sid in new
                    for value in ("language models", "out-of-distribution")
                ],
            )
            ids.extend(new)
    return sorted(ids)


def ready_deliveries(count: int, **kwargs: Any) -> list[int]:
    """Ingest the sample, add readers, plan and pick: return delivery ids ready to send."""
    run_ingest("sample")
    add_readers(count, **kwargs)
    planned = chain.plan()
    assert len(planned) == count
    ready = chain.rank(planned)
    assert len(ready) == count
    return ready


def states() -> Counter[str]:
    with session_scope() as session:
        rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        return Counter({state: n for state, n in rows})


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    last: T = predicate()
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last value {last!r})")


def recipients_of(raw_messages: list[dict[str, Any]]) -> Counter[str]:
    """Count messages per To: address as moto stored them."""
    counts: Counter[str] = Counter()
    for item in raw_messages:
        message = email.message_from_string(item["raw_data"])
        counts[str(message["To"])] += 1
    return counts


def expected_recipients(prefix: str = "reader") -> set[str]:
    with session_scope() as session:
        return set(
            session.scalars(select(Subscriber.email).where(Subscriber.email.like(f"{prefix}%")))
        )
