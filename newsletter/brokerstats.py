"""What the broker holds: depth and oldest-message age per queue, SES quota counters.

Read straight from Redis (kombu's list per queue, our quota keys), so it answers even
when no worker runs. Part of the operator view (newsletter.monitoring).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from newsletter.delivery.ratelimit import ACCOUNT_KEY, QUOTA_KEY
from newsletter.queues import Queue

QUEUES = tuple(queue.value for queue in Queue)
# kombu's Redis transport files prioritised messages under "<queue>\x06\x16<priority>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


@dataclass
class QueueStats:
    name: str
    depth: int | None  # None: Redis unreachable
    oldest_age_seconds: float | None  # None: empty, or the message carries no timestamp
    reserved: int = 0  # taken by a worker, not yet acknowledged


def _queue_keys(name: str) -> list[str]:
    return [name if step == 0 else f"{name}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS]


def _published_at(raw: bytes | str | None) -> float | None:
    """Read when a queued Celery message was published (our header, else its ETA)."""
    if raw is None:
        return None
    try:
        headers = json.loads(raw).get("headers") or {}
    except (ValueError, AttributeError):
        return None
    stamp = headers.get("published_at")
    if isinstance(stamp, int | float):
        return float(stamp)
    return None


def queue_stats(client: redis.Redis, queues: Iterable[str] = QUEUES) -> list[QueueStats]:
    """Measure depth and oldest-message age of each Celery queue in Redis."""
    now = time.time()
    names = list(queues)
    stats = {name: QueueStats(name, 0, None) for name in names}
    for name in names:
        oldest: float | None = None
        for key in _queue_keys(name):
            depth = int(client.llen(key))
            if not depth:
                continue
            stats[name].depth = (stats[name].depth or 0) + depth
            stamp = _published_at(client.lindex(key, -1))
            if stamp is not None:
                oldest = stamp if oldest is None else min(oldest, stamp)
        if oldest is not None:
            stats[name].oldest_age_seconds = max(0.0, now - oldest)
    # Messages a worker took but has not acknowledged yet (acks_late): kombu keeps them
    # in the "unacked" hash as [message, exchange, routing_key].
    for raw in client.hvals("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in stats:
            stats[routing_key].reserved += 1
    return [stats[name] for name in names]


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def ses_quota(client: redis.Redis) -> dict[str, float] | None:
    """Read the SES account figures the send workers cached (no call to AWS from here)."""
    raw = client.get(ACCOUNT_KEY)
    if not raw:
        return None
    try:
        quota = json.loads(raw).get("SendQuota") or {}
        figures = {
            "max_send_rate": float(quota.get("MaxSendRate", 0)),
            "max_24_hour_send": float(quota.get("Max24HourSend", -1)),
            "sent_last_24_hours": float(quota.get("SentLast24Hours", 0)),
        }
    except (ValueError, TypeError, AttributeError):
        return None
    remaining = client.get(QUOTA_KEY)
    if remaining is not None:
        figures["remaining_24_hour"] = float(remaining)
    return figures
