"""Send a chunk with many provider requests in flight: the account's rate, not the round trip's.

One worker process sending one message at a time waits out every SES round trip: at
50 ms that is 20 messages/s per process, whatever the account allows. Here the process
keeps up to NEWSLETTER_SEND_CONCURRENCY requests in flight on a thread pool over one
client (SES's boto3 client is thread-safe; its connection pool is sized to match),
while the main thread alone does the bookkeeping, in batches:

    take n tokens (one Redis call) -> claim those n rows (one statement, commit)
    -> n provider calls on pool threads -> record what came back (one transaction)

and one composer thread renders the next few messages meanwhile (read-only).

The guarantees are the one-message state machine's (newsletter.delivery.send): a row
is claimed only once a token is in hand and just before its request goes out, so at
most the requests in flight are `sending` when a process dies, and their lease turns
them `uncertain`, never resent. Outcomes are recorded as soon as they come back.

A process starts with one request in flight and opens up by one per success (slow
start, as TCP does): a paused account, a throttling answer or a bad configuration
costs one request, not a pool's worth. Throttling or an account error closes the
window to one again. It never opens past rate x round trip: at 40/s and 10 ms one
request at a time keeps up, and a crash leaves no more uncertain than that.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from newsletter.delivery.base import OutgoingEmail, QuotaSendError, Sender
from newsletter.delivery.ratelimit import QuotaExhausted, RateLimiter, RateLimitTimeout
from newsletter.delivery.send import Attempt, Outcome, attempt, claim, record, trip

log = logging.getLogger(__name__)

# How long the loop waits for an answer before asking the bucket for tokens again
# while requests are in flight and more messages wait.
POLL_SECONDS = 0.005
# Batches composed ahead of the one being sent.
COMPOSE_AHEAD = 2
# How long a chunk with nothing in flight waits for a token before giving up (the
# task retries with backoff).
TOKEN_WAIT_SECONDS = 60.0


@dataclass
class Window:
    """How many requests this process may have in flight now (1 up to `limit`).

    It opens by one per success, but never past what the fleet's rate needs for the
    round trips seen (rate x round trip, rounded up): more requests than that would
    only wait for tokens, and every request in flight is one a crash leaves uncertain.
    """

    limit: int
    size: int = 1
    round_trip: float = 0.0  # seconds, a moving average of the answers seen
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answered(self, seconds: float) -> None:
        with self.lock:
            self.round_trip = (
                seconds if not self.round_trip else 0.8 * self.round_trip + 0.2 * seconds
            )

    def opened(self, rate: float) -> None:
        with self.lock:
            needed = (
                max(1, math.ceil(rate * self.round_trip)) if math.isfinite(rate) else self.limit
            )
            self.size = min(self.limit, self.size + 1, max(needed, 1))

    def closed(self) -> None:
        with self.lock:
            self.size = 1


@dataclass
class Flight:
    """A process's sending pool and window (newsletter.delivery.backends.process_flight)."""

    pool: ThreadPoolExecutor
    window: Window
    # One thread renders the next batches while the main thread keeps the books.
    composer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose")
    )

    @classmethod
    def of(cls, limit: int) -> Flight:
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="send")
        return cls(pool, Window(limit))

    def close(self) -> None:
        self.composer.shutdown(wait=True)
        self.pool.shutdown(wait=True)


@dataclass
class Tally:
    """A chunk's outcomes, and where its CPU went: composing, and the provider calls."""

    counts: Counter[str] = field(default_factory=Counter)
    render_cpu: float = 0.0  # the composing thread
    client_cpu: float = 0.0  # the pool threads, inside the provider client


def send_emails(
    batches: Iterable[list[int]],
    compose: Callable[[list[int]], list[OutgoingEmail]],
    sender: Sender,
    limiter: RateLimiter,
    flight: Flight,
    tally: Tally | None = None,
) -> Tally:
    """Send these deliveries, each at most once, several in flight.

    `batches` are delivery ids, a few at a time, and `compose` renders the sendable
    ones of a batch (rows no longer pending count as NOT_CLAIMED). The next batches
    are composed on the flight's composer thread while the main thread claims, records
    and keeps requests in flight, so rendering (CPU, and a query per email) overlaps
    the round trips instead of stopping them.

    Returns the outcomes. A transient error (throttling, unreachable provider, no
    token within a minute) is raised once every request in flight has been recorded:
    rows not sent are pending again, so retrying the chunk is safe. An account-level
    error or an exhausted quota opens the breaker: the rest count as PAUSED. Anything
    unexpected is raised too, after the answers in flight are recorded; a request
    that itself raised leaves its row `sending` for the lease to decide.
    """
    chunk = _Chunk(deque(batches), compose, sender, limiter, flight, tally or Tally())
    chunk.run()
    return chunk.tally


@dataclass
class _Chunk:
    """One chunk's send loop; only the calling thread touches the database."""

    batches: deque[list[int]]
    compose: Callable[[list[int]], list[OutgoingEmail]]
    sender: Sender
    limiter: RateLimiter
    flight: Flight
    tally: Tally
    waiting: deque[OutgoingEmail] = field(default_factory=deque)
    ahead: deque[tuple[list[int], Future[tuple[list[OutgoingEmail], float]]]] = field(
        default_factory=deque
    )
    running: dict[Future[Attempt], OutgoingEmail] = field(default_factory=dict)
    retry: Exception | None = None  # a transient error: raised at the end, task retries
    crash: Exception | None = None  # anything else: raised at the end
    paused: bool = False

    @property
    def stopping(self) -> bool:
        return bool(self.retry or self.crash or self.paused)

    @property
    def launching(self) -> bool:
        return bool(self.waiting or self.ahead or self.batches) and not self.stopping

    def _composed(self, ids: list[int]) -> tuple[list[OutgoingEmail], float]:
        started = time.thread_time()
        return self.compose(ids), time.thread_time() - started

    def refill(self) -> None:
        """Keep batches composing ahead; take those done, waiting for one if idle."""
        while not self.stopping:
            while self.batches and len(self.ahead) < COMPOSE_AHEAD:
                ids = self.batches.popleft()
                self.ahead.append((ids, self.flight.composer.submit(self._composed, ids)))
            idle = not self.waiting and not self.running
            if not self.ahead or not (self.ahead[0][1].done() or idle):
                return
            ids, future = self.ahead.popleft()
            try:
                emails, cpu = future.result()
            except Exception as exc:  # the database went away while composing
                self.crash = exc
                return
            self.tally.render_cpu += cpu
            self.tally.counts[Outcome.NOT_CLAIMED.value] += len(ids) - len(emails)
            self.waiting.extend(emails)

    def run(self) -> None:
        while self.running or self.launching:
            self.refill()
            room = self.room()
            if room > 0:
                try:
                    self.launch(room)
                except Exception as exc:  # Redis or the database went away mid-chunk
                    # Record what is in flight before raising: an answered request
                    # must not turn `uncertain` because the next token could not be had.
                    self.crash = exc
            if self.running:
                # With room left and messages waiting, come back soon for tokens; a
                # batch composed meanwhile wakes the loop too.
                self.collect(POLL_SECONDS if self.room() > 0 else None)
        if self.paused:
            unsent = len(self.waiting) + sum(len(ids) for ids in self.batches)
            unsent += sum(len(ids) for ids, _ in self.ahead)
            self.tally.counts[Outcome.PAUSED.value] += unsent
        if self.crash is not None:
            raise self.crash
        if self.retry is not None:
            raise self.retry

    def room(self) -> int:
        if not self.launching:
            return 0
        return min(self.flight.window.size - len(self.running), len(self.waiting))

    def launch(self, room: int) -> None:
        """Take up to `room` tokens, claim that many rows, put their requests in flight."""
        try:
            granted = self.limiter.take(room, 0.0 if self.running else TOKEN_WAIT_SECONDS)
        except QuotaExhausted as exc:
            trip(str(exc), quota=True)
            self.paused = True
            return
        if granted == 0:
            if not self.running:
                self.retry = RateLimitTimeout(f"no send token within {TOKEN_WAIT_SECONDS:.0f}s")
            return
        batch = [self.waiting.popleft() for _ in range(granted)]
        claimed = claim(batch)
        if claimed is None:  # the breaker opened meanwhile
            self.waiting.extendleft(reversed(batch))
            self.paused = True
            return
        ours, others = claimed
        self.tally.counts.update({k.value: n for k, n in others.items()})
        for email in ours:
            self.running[self.flight.pool.submit(attempt, self.sender, email)] = email

    def collect(self, timeout: float | None) -> None:
        """Wait for answers, record them in one transaction, and react to them."""
        watched: set[Future[Any]] = set(self.running)
        if self.ahead and not self.stopping:
            watched.add(self.ahead[0][1])
        done, _ = wait(watched, timeout=timeout, return_when=FIRST_COMPLETED)
        finished: list[Attempt] = []
        for future in done:
            if future not in self.running:
                continue  # a composed batch: the next refill takes it
            del self.running[future]
            try:
                finished.append(future.result())
            except Exception as exc:
                log.exception("provider call raised; its row stays sending for the lease")
                self.crash = self.crash or exc
        record(finished)
        for outcome in finished:
            self.tally.client_cpu += outcome.cpu
            self.react(outcome)

    def react(self, outcome: Attempt) -> None:
        """Open the window on a success; close it, and stop, on throttling or a pause."""
        window = self.flight.window
        window.answered(outcome.seconds)
        if outcome.outcome == Outcome.SENT:
            window.opened(self.limiter.rate)
        elif outcome.outcome == Outcome.RETRY:
            window.closed()
            if self.retry is None:
                self.limiter.slow_down()
                self.retry = outcome.error
        elif outcome.outcome == Outcome.PAUSED:
            window.closed()
            if not self.paused:
                trip(str(outcome.error), quota=isinstance(outcome.error, QuotaSendError))
                self.paused = True
        if outcome.outcome != Outcome.RETRY:
            self.tally.counts[outcome.outcome.value] += 1


__all__ = ["Flight", "Tally", "Window", "send_emails"]
