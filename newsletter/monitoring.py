"""What operators need to see: queues, workers, deliveries, send and bounce rates, alerts.

One snapshot feeds /admin, `newsletter queues` and /metrics, so they never disagree.
Queue facts come straight from Redis (kombu keeps each queue as a list; the oldest
message sits at the right end and carries the `published_at` header workers/app.py
stamps); worker facts come from Celery's remote inspect with a short timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.brokerstats import QUEUES, QueueStats, queue_stats, redis_client, ses_quota
from newsletter.config import get_settings
from newsletter.delivery.breaker import read as read_breaker
from newsletter.models import Delivery, DeliveryState, Edition, Paper, Subscriber, Suppression
from newsletter.operations.counts import (
    events_since,
    grouped_counts,
    recent_bad_addresses,
    recent_failures,
    recent_ingest_runs,
    sent_since,
)
from newsletter.operations.heartbeat import last_plan
from newsletter.queues import WorkerStats, broker
from newsletter.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)


# SES puts an account under review above these rates; warn well before.
SES_BOUNCE_LIMIT = 0.05
SES_COMPLAINT_LIMIT = 0.001
BOUNCE_WARN = 0.02
COMPLAINT_WARN = 0.0005
RATE_WINDOW = timedelta(days=7)
# A queue whose oldest message waited NEWSLETTER_ALERT_QUEUE_AGE_MINUTES has no (or too
# few) workers; beat that has not planned for BEAT_LATE plan intervals has stopped.
BEAT_LATE = 2
# New papers are embedded right after their ingest; older than this without a vector
# means no worker is doing it.
EMBED_LAG = timedelta(hours=1)
RECENT_EDITIONS = timedelta(hours=36)


@dataclass
class EditionStats:
    key: str
    opened_at: datetime
    states: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.states.values())


@dataclass
class Overview:
    generated_at: datetime
    broker: str  # "embedded" or the Redis host (no password)
    queues: list[QueueStats]
    queue_error: str | None
    workers: list[WorkerStats] | None  # None: not inspected (embedded, or no answer)
    worker_error: str | None
    editions: list[EditionStats]
    sent_last_minute: int
    sent_last_hour: int
    send_rate_limit: float | None
    sent_in_window: int
    bounces_in_window: int
    complaints_in_window: int
    subscribers: dict[str, int]
    suppressions: dict[str, int]
    failures: list[dict[str, Any]]
    ingest_runs: list[dict[str, Any]]
    bad_addresses: list[dict[str, Any]] = field(default_factory=list)  # recent bounces etc.
    sending: str = "sending: running"  # the circuit breaker, in words
    sending_paused: bool = False
    # SES GetAccount figures as the send workers last cached them (never fetched here).
    ses_quota: dict[str, float] | None = None
    # With embeddings on: the model, papers first seen in 7 days, how many have a vector,
    # and how many of those older than an hour still have none (the embed task lags).
    embeddings: dict[str, Any] | None = None
    # When the plan step last ran (beat's heartbeat), and the limits alerts compare with.
    last_plan_at: datetime | None = None
    plan_interval_seconds: float = 300.0
    queue_age_limit_seconds: float = 15 * 60.0
    alerts: list[str] = field(default_factory=list)

    @property
    def bounce_rate(self) -> float | None:
        return self.bounces_in_window / self.sent_in_window if self.sent_in_window else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints_in_window / self.sent_in_window if self.sent_in_window else None

    @property
    def send_rate_per_second(self) -> float:
        return self.sent_last_minute / 60.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bounce_rate"] = self.bounce_rate
        data["complaint_rate"] = self.complaint_rate
        data["send_rate_per_second"] = self.send_rate_per_second
        data["ses_limits"] = {"bounce": SES_BOUNCE_LIMIT, "complaint": SES_COMPLAINT_LIMIT}
        for edition in data["editions"]:
            edition["total"] = sum(edition["states"].values())
        return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- workers ----------------------------------------------------------------------

WorkerInspector = Callable[[float], list[WorkerStats]]


def inspect_workers(timeout: float = 1.0) -> list[WorkerStats]:
    """Ask running workers what they consume and run (empty list: none answered)."""
    return broker().inspect_workers(timeout)


# --- database ---------------------------------------------------------------------


def edition_stats(session: Session, now: datetime) -> list[EditionStats]:
    """Count deliveries by state for the editions opened recently (the current ones).

    Editions are named by local date, so around the clock two or three are current.
    """
    editions = session.execute(
        select(Edition.id, Edition.key, Edition.opened_at)
        .where(Edition.opened_at >= now - RECENT_EDITIONS)
        .order_by(Edition.opened_at.desc())
    ).all()
    if not editions:
        editions = session.execute(
            select(Edition.id, Edition.key, Edition.opened_at)
            .order_by(Edition.opened_at.desc())
            .limit(1)
        ).all()
    out = []
    for edition_id, key, opened_at in editions:
        states = dict(
            session.execute(
                select(Delivery.state, func.count())
                .where(Delivery.edition_id == edition_id)
                .group_by(Delivery.state)
            ).all()
        )
        out.append(
            EditionStats(key, as_utc(opened_at), {str(k): int(v) for k, v in states.items()})
        )
    return out


# --- the snapshot -----------------------------------------------------------------


def overview(
    session: Session,
    *,
    now: datetime | None = None,
    inspect: WorkerInspector | None = inspect_workers,
    inspect_timeout: float = 1.0,
) -> Overview:
    """Collect everything the operator views show; broker problems become messages."""
    now = now or utcnow()
    settings = get_settings()
    queues: list[QueueStats] = []
    queue_error = worker_error = None
    workers: list[WorkerStats] | None = None
    quota = None
    broker = "embedded (tasks run in-process)"
    if settings.redis_url:
        broker = settings.redis_url.split("@")[-1]
        try:
            client = redis_client(settings.redis_url)
            try:
                queues = queue_stats(client)
                quota = ses_quota(client)
            finally:
                client.close()
        except redis.RedisError as exc:
            queue_error = f"cannot read queues from Redis: {exc}"
            queues = [QueueStats(name, None, None) for name in QUEUES]
        if inspect is not None and queue_error is None:
            try:
                workers = inspect(inspect_timeout)
            except Exception as exc:  # inspect raises broker/transport errors of all kinds
                worker_error = f"cannot inspect workers: {exc}"
    window_start = now - RATE_WINDOW
    breaker = read_breaker(session)
    result = Overview(
        generated_at=now,
        broker=broker,
        queues=queues,
        queue_error=queue_error,
        workers=workers,
        worker_error=worker_error,
        editions=edition_stats(session, now),
        sent_last_minute=sent_since(session, now - timedelta(minutes=1)),
        sent_last_hour=sent_since(session, now - timedelta(hours=1)),
        send_rate_limit=settings.send.rate,
        sent_in_window=sent_since(session, window_start),
        bounces_in_window=events_since(session, "bounce", window_start, "Permanent"),
        complaints_in_window=events_since(session, "complaint", window_start),
        subscribers=grouped_counts(session, Subscriber.status),
        suppressions=grouped_counts(session, Suppression.reason),
        failures=recent_failures(session),
        ingest_runs=recent_ingest_runs(session),
        bad_addresses=recent_bad_addresses(session),
        sending=breaker.describe(now),
        sending_paused=breaker.is_open(now),
        ses_quota=quota,
        last_plan_at=last_plan(session),
        plan_interval_seconds=settings.plan_interval_seconds,
        queue_age_limit_seconds=settings.alert_queue_age_minutes * 60,
    )
    if quota and quota.get("max_send_rate"):
        result.send_rate_limit = settings.send.rate or quota["max_send_rate"]
    result.embeddings = embedding_coverage(session, now)
    result.alerts = alerts(result)
    return result


def embedding_coverage(session: Session, now: datetime) -> dict[str, Any] | None:
    """Recent papers with and without a vector of the configured model; None when off.

    Reads the setting: "minilm" loads no model (only a custom factory is loaded to
    learn its name).
    """
    from newsletter.ranking.embedder import EmbeddingsUnavailable, configured_model_name

    try:
        model = configured_model_name()
    except EmbeddingsUnavailable as exc:
        return {"model": None, "error": str(exc), "recent": 0, "embedded": 0, "lagging": 0}
    if model is None:
        return None
    has = (Paper.embedding_model == model) & Paper.embedding.is_not(None)
    lagging = ~has & (Paper.first_seen_at < now - EMBED_LAG)
    # One pass over the week's papers for all three counts.
    recent, embedded, late = session.execute(
        select(
            func.count(Paper.id),
            func.count(Paper.id).filter(has),
            func.count(Paper.id).filter(lagging),
        ).where(Paper.first_seen_at >= now - RATE_WINDOW, Paper.withdrawn.is_(False))
    ).one()
    return {"model": model, "recent": recent, "embedded": embedded, "lagging": late}


def alerts(view: Overview) -> list[str]:
    """Say in words what needs an operator now, worst first."""
    out: list[str] = []
    if view.sending_paused:
        out.append(view.sending)
    quota = view.ses_quota or {}
    if quota.get("max_24_hour_send", -1) > 0 and quota.get("remaining_24_hour", 1) <= 0:
        out.append("the SES 24-hour sending quota is used up")
    if view.bounce_rate is not None and view.bounce_rate >= BOUNCE_WARN:
        level = "above SES's review limit" if view.bounce_rate >= SES_BOUNCE_LIMIT else "high"
        out.append(f"bounce rate {view.bounce_rate:.2%} over 7 days is {level} (SES: 5%)")
    if view.complaint_rate is not None and view.complaint_rate >= COMPLAINT_WARN:
        level = "above SES's review limit" if view.complaint_rate >= SES_COMPLAINT_LIMIT else "high"
        out.append(f"complaint rate {view.complaint_rate:.3%} over 7 days is {level} (SES: 0.1%)")
    if view.queue_error:
        out.append(view.queue_error)
    for queue in view.queues:
        age = queue.oldest_age_seconds
        if age is not None and age > view.queue_age_limit_seconds:
            out.append(f"queue {queue.name}: oldest message waited {age / 60:.0f} min")
    if view.workers is not None and not view.workers:
        waiting = any(q.depth for q in view.queues)
        out.append(
            "no worker answered, and work is waiting in the queues"
            if waiting
            else "no worker answered: nothing will be planned, ranked or sent"
        )
    out.extend(beat_alerts(view))
    if view.worker_error:
        out.append(view.worker_error)
    uncertain = sum(e.states.get(DeliveryState.UNCERTAIN, 0) for e in view.editions)
    if uncertain:
        out.append(
            f"{uncertain} deliveries are uncertain: decide with "
            "`newsletter deliveries retry --uncertain`"
        )
    coverage = view.embeddings or {}
    if coverage.get("error"):
        out.append(f"embeddings: {coverage['error']}")
    elif coverage.get("lagging"):
        out.append(
            f"{coverage['lagging']} papers first seen over an hour ago have no "
            f"{coverage['model']} vector: is a worker with NEWSLETTER_EMBEDDINGS set "
            "consuming the ingest queue? (`newsletter embed` catches up)"
        )
    latest_by_source: dict[str, dict[str, Any]] = {}
    for run in view.ingest_runs:
        latest_by_source.setdefault(run["source"], run)
    for source, run in sorted(latest_by_source.items()):
        if run["error"]:
            out.append(f"latest {source} ingest failed: {run['error']}")
    return out


def beat_alerts(view: Overview) -> list[str]:
    """Beat must plan every interval; only checked with a broker (no beat without one)."""
    if view.broker.startswith("embedded"):
        return []
    interval = view.plan_interval_seconds
    if view.last_plan_at is None:
        return ["beat has never planned a send: is the `beat` process running?"]
    late = (view.generated_at - view.last_plan_at).total_seconds()
    if late <= BEAT_LATE * interval:
        return []
    return [
        f"beat has not planned for {late / 60:.0f} min (it should every "
        f"{interval / 60:g} min): is the `beat` process running?"
    ]
