"""The chain from paper to inbox: plan who is due -> rank their papers -> send.

This module owns the chain. Each step opens its own transactions, takes only plain
values (delivery ids, a time) and passes the ids it produced to the next step through a
`Handoff`: the Celery tasks (workers/tasks.py) use `Queued`, which queues the next
task, and the embedded default uses `InProcess`, which runs the next step at once. So
both run the same code, and a step run twice (a redelivered message) does no harm:
unique keys and conditional updates in the database decide, never a read-then-write.

    plan    editions.plan_deliveries: Delivery rows, insert-or-ignore   (queue schedule)
    rank    ranking.readers.rank_and_record: picks per delivery         (queue rank)
    send    delivery.send + delivery.inflight: compose, then claim, send,   (queue send)
            record in batches with several requests in flight
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import redis
import sqlalchemy.exc
from sqlalchemy import func, select

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import breaker, state
from newsletter.delivery.backends import process_flight, process_limiter, process_sender
from newsletter.delivery.base import OutgoingEmail, TransientSendError
from newsletter.delivery.inflight import Tally, send_emails
from newsletter.delivery.ratelimit import RateLimitTimeout
from newsletter.delivery.send import Outcome, compose_chunk
from newsletter.editions import plan_deliveries, plan_for
from newsletter.metrics import count_send
from newsletter.models import Delivery, Edition
from newsletter.operations.heartbeat import stamp_plan
from newsletter.queues import broker
from newsletter.ranking.readers import rank_and_record
from newsletter.schedule import quiet_days_included
from newsletter.timeutil import utcnow

log = logging.getLogger(__name__)

# Deliveries per rank or send task: big enough that queueing costs nothing next to the
# work, small enough that a retried chunk redoes little.
CHUNK_SIZE = 100
# Messages rendered at a time within a send chunk, while the last ones are in flight.
COMPOSE_BATCH = 10

# Errors worth retrying a task for: the provider said "later", or the database or
# Redis connection dropped (the claim makes running the task again safe).
RETRYABLE_SEND: tuple[type[Exception], ...] = (TransientSendError, RateLimitTimeout)
RETRYABLE_INFRA: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def chunked(ids: Sequence[int], size: int = CHUNK_SIZE) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


class Handoff(Protocol):
    """Where a step puts the ids it produced: the next step, queued or run at once."""

    def rank(self, delivery_ids: list[int]) -> None: ...

    def send(self, delivery_ids: list[int]) -> None: ...


# --- the steps ----------------------------------------------------------------------


def plan(now: datetime | None = None) -> list[int]:
    """Create the Delivery rows of everyone due at `now`; return the new rows' ids."""
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope() as session:
        ids = plan_deliveries(session, now)
        # The operator view alerts when beat stops planning (newsletter.monitoring).
        stamp_plan(session, utcnow())
    log.info(
        "plan of %d: %.3fs; cpu %.3fs",
        len(ids),
        time.perf_counter() - started,
        time.process_time() - cpu,
    )
    return ids


def sweep(*, everything: bool = False) -> list[int]:
    """Expire stuck claims and return pending rows whose task messages were lost.

    `everything` returns every pending row (the in-process runner has no queue that
    could still hold them). Nothing is returned while sending is paused.
    """
    expire()
    with session_scope() as session:
        if breaker.is_open(session):
            return []
        if everything:
            return state.pending_ids(session)
        older = timedelta(seconds=get_settings().requeue_after_seconds)
        return state.stale_pending(session, older)


def expire() -> int:
    """Turn claims whose lease ran out into `uncertain` (never resent by themselves)."""
    with session_scope() as session:
        expired = state.expire_leases(session)
    if expired:
        log.error("%d deliveries became uncertain (lease expired while sending)", expired)
    return expired


def rank(delivery_ids: list[int], now: datetime | None = None) -> list[int]:
    """Rank and record the picks of these deliveries; return the ids ready to send."""
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope() as session:
        ready = rank_and_record(session, delivery_ids, now)
    log.info(
        "rank chunk of %d: %.3fs; cpu %.3fs",
        len(delivery_ids),
        time.perf_counter() - started,
        time.process_time() - cpu,
    )
    return ready


def send(delivery_ids: list[int]) -> dict[str, int]:
    """Render and send the chunk, several requests in flight per process.

    Rendering goes a few messages at a time, overlapping the requests in flight
    (newsletter.delivery.inflight). A retryable error stops the chunk and propagates
    once the requests in flight are recorded. When sending is paused (breaker open)
    the rest of the chunk stays pending and nothing is retried: resuming, or the
    window freeing up, puts them back on the queue.
    """
    counts = Counter({outcome.value: 0 for outcome in Outcome if outcome != Outcome.RETRY})
    with session_scope() as session:
        if breaker.is_open(session):
            counts[Outcome.PAUSED] = len(delivery_ids)
            return dict(counts)
    sender, limiter, flight = process_sender(), process_limiter(), process_flight()
    started, started_cpu = time.perf_counter(), time.process_time()
    tally = Tally(counts)
    try:
        send_emails(chunked(delivery_ids, COMPOSE_BATCH), composed, sender, limiter, flight, tally)
    finally:
        # One line per chunk: where the time went (bench/bench_e2e.py reads it too).
        # CPU is the process's: composing is measured on this thread, the provider
        # calls on the pool threads, and the rest is our bookkeeping.
        cpu = time.process_time() - started_cpu
        log.info(
            "send chunk of %d: %.3fs; cpu render %.3fs, bookkeeping %.3fs, client %.3fs; %s",
            len(delivery_ids),
            time.perf_counter() - started,
            tally.render_cpu,
            max(0.0, cpu - tally.render_cpu - tally.client_cpu),
            tally.client_cpu,
            {k: v for k, v in counts.items() if v},
        )
        for outcome, n in counts.items():
            for _ in range(n):
                count_send("digest", outcome)
    return dict(counts)


def composed(delivery_ids: list[int]) -> list[OutgoingEmail]:
    """Render the deliveries of these ids that are still pending and picked."""
    return [e for e in compose_chunk(delivery_ids).values() if not isinstance(e, Outcome)]


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Seconds before retry number `retries`: exponential, capped, with jitter.

    The jitter spreads the workers that were throttled together, so they do not all come
    back in the same instant and get throttled again.
    """
    cap = get_settings().send.retry_max_seconds
    ceiling = min(cap, 2.0 ** min(retries, 20))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, min(cap, retry_after or 0.0))


# --- a step and its handoff -----------------------------------------------------------


def plan_step(handoff: Handoff, now: datetime | None = None, *, sweep_all: bool = False) -> int:
    """Plan who is due, add pending rows whose messages were lost, hand them to rank."""
    ids = plan(now)
    stale = sweep(everything=sweep_all)
    # Handed off only after plan() committed: the next step must find the rows.
    for chunk in chunked(sorted(set(ids) | set(stale))):
        handoff.rank(chunk)
    return len(ids)


def rank_step(handoff: Handoff, delivery_ids: list[int]) -> int:
    """Rank a chunk and hand the deliveries that have picks to send."""
    ready = rank(delivery_ids)
    if ready:
        handoff.send(ready)
    return len(ready)


class Queued:
    """Hand each next step to the workers as a task message on its queue."""

    def rank(self, delivery_ids: list[int]) -> None:
        broker().enqueue("rank_chunk", delivery_ids)

    def send(self, delivery_ids: list[int]) -> None:
        broker().enqueue("send_chunk", delivery_ids)


@dataclass
class InProcess:
    """Run each next step at once, in this process (the embedded default, the demo).

    There is no queue to retry on: a throttled send stops the run and leaves its rows
    pending for the next run.
    """

    counts: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None

    def rank(self, delivery_ids: list[int]) -> None:
        if self.stopped is None:
            rank_step(self, delivery_ids)

    def send(self, delivery_ids: list[int]) -> None:
        if self.stopped is not None:
            return
        try:
            self.counts.update(send(delivery_ids))
        except RETRYABLE_SEND as exc:
            log.warning("send stopped (%s); pending rows go out on the next run", exc)
            self.stopped = str(exc)
            self.counts["retry_later"] += len(delivery_ids)

    def summary(self) -> str:
        totals = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()) if n)
        if self.stopped:
            return f"stopped: {self.stopped}; the rest stays pending ({totals})"
        return totals or "nothing to send"


# --- entry points for the CLI and the demo ----------------------------------------------


@dataclass
class RunReport:
    planned: int = 0
    queued: bool = False
    seconds: float = 0.0
    editions: dict[str, Counter[str]] = field(default_factory=dict)

    def summary(self) -> str:
        if self.queued:
            return "plan_due enqueued on the schedule queue; the workers rank and send"
        lines = [f"planned {self.planned} new deliveries in {self.seconds:.2f}s"]
        for key, states in sorted(self.editions.items()):
            parts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
            lines.append(f"  edition {key}: {parts}")
        return "\n".join(lines)


def run_due(
    now: datetime | None = None,
    *,
    in_process: bool | None = None,
    include_quiet_days: bool = False,
) -> RunReport:
    """Plan everyone due at `now`; in-process (the embedded default) rank and send too.

    With a broker, plan_due is queued and the workers do the rest. In-process, every
    pending row (an earlier run's throttled leftovers too) goes out now.
    `include_quiet_days` plans daily editions on weekends and arXiv holidays too (in
    process only: the demo must show a digest whatever day it is run).
    """
    now = now or utcnow()
    in_process = get_settings().embedded if in_process is None else in_process
    if not in_process:
        broker().enqueue("plan_due", now.isoformat())
        return RunReport(queued=True)
    started = time.perf_counter()
    with quiet_days_included() if include_quiet_days else nullcontext():
        planned = plan_step(InProcess(), now, sweep_all=True)
    return RunReport(
        planned=planned,
        seconds=time.perf_counter() - started,
        editions=edition_states(now),
    )


def send_now(subscriber_ids: Sequence[int], now: datetime | None = None) -> RunReport:
    """Plan the current edition for these readers whatever their send hour, then rank
    and send it in-process (the demo shows a digest at once; the readers keep their
    own send hours for every later edition and for the "next digest" line)."""
    now = now or utcnow()
    started = time.perf_counter()
    with session_scope() as session:
        ids = plan_for(session, subscriber_ids, now)
    handoff = InProcess()
    for chunk in chunked(ids):
        handoff.rank(chunk)
    return RunReport(
        planned=len(ids), seconds=time.perf_counter() - started, editions=edition_states(now)
    )


def requeue(delivery_ids: list[int], *, in_process: bool | None = None) -> str:
    """Rank and send these pending deliveries again: in-process, or through the queues."""
    in_process = get_settings().embedded if in_process is None else in_process
    if not in_process:
        for chunk in chunked(delivery_ids):
            Queued().rank(chunk)
        return f"queued {len(delivery_ids)} deliveries for the workers"
    handoff = InProcess()
    for chunk in chunked(delivery_ids):
        handoff.rank(chunk)
    return handoff.summary()


def edition_states(now: datetime) -> dict[str, Counter[str]]:
    """Count deliveries by state for editions opened in the last two days."""
    out: dict[str, Counter[str]] = {}
    with session_scope() as session:
        rows = session.execute(
            select(Edition.key, Delivery.state, func.count())
            .join(Delivery, Delivery.edition_id == Edition.id)
            .where(Edition.opened_at >= now - timedelta(days=2))
            .group_by(Edition.key, Delivery.state)
        )
        for key, state_name, count in rows:
            out.setdefault(key, Counter())[state_name] = count
    return out
