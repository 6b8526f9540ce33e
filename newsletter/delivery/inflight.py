"""Send a chunk with many provider requests in flight: the account's rate, not the round trip's.

One worker process sending one message at a time waits out every SES round trip: at
50 ms that is 20 messages/s per process, whatever the account allows. Here the process
keeps up to NEWSLETTER_SEND_CONCURRENCY requests in flight on a thread pool over one
client (SES's boto3 client is thread-safe; its connection pool is sized to match),
while the main thread alone does the bookkeeping, in batches:

    take n tokens (one Redis call) -> claim those n rows (one statement, commit)
    -> n provider calls on pool threads -> record what came back (one transaction)

The guarantees are the one-message state machine's (newsletter.delivery.send): a row
is claimed only once a token is in hand and just before its request goes out, so at
most the requests in flight are `sending` when a process dies, and their lease turns
them `uncertain`, never resent. Outcomes are recorded as soon as they come back.

A process starts with one request in flight and opens up by one per success (slow
start, as TCP does): a paused account, a throttling answer or a bad configuration
costs one request, not a pool's worth. Throttling or an account error closes the
window to one again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from newsletter.delivery.base import OutgoingEmail, QuotaSendError, Sender, TransientSendError
from newsletter.delivery.ratelimit import QuotaExhausted, RateLimiter, RateLimitTimeout
from newsletter.delivery.send import Attempt, Outcome, attempt, claim, record, trip

log = logging.getLogger(__name__)

# How long the loop waits for an answer before asking the bucket for tokens again
# while requests are in flight and more messages wait.
POLL_SECONDS = 0.005
# How long a chunk with nothing in flight waits for a token before giving up (the
# task retries with backoff).
TOKEN_WAIT_SECONDS = 60.0


@dataclass
class Window:
    """How many requests this process may have in flight now (1 up to `limit`)."""

    limit: int
    size: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def opened(self) -> None:
        with self.lock:
            self.size = min(self.limit, self.size + 1)

    def closed(self) -> None:
        with self.lock:
            self.size = 1


@dataclass
class Flight:
    """A process's sending pool and window (newsletter.delivery.backends.process_flight)."""

    pool: ThreadPoolExecutor
    window: Window

    @classmethod
    def of(cls, limit: int) -> Flight:
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="send")
        return cls(pool, Window(limit))

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@dataclass
class Tally:
    """A chunk's outcomes, and the CPU its provider calls took on pool threads."""

    counts: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0


def send_emails(
    emails: Sequence[OutgoingEmail],
    sender: Sender,
    limiter: RateLimiter,
    flight: Flight,
    tally: Tally | None = None,
) -> Tally:
    """Send these composed deliveries, each at most once, several in flight.

    Returns the outcomes. A transient error (throttling, unreachable provider, no
    token within a minute) is raised once every request in flight has been recorded:
    rows not sent are pending again, so retrying the chunk is safe. An account-level
    error or an exhausted quota opens the breaker: the rest count as PAUSED. Anything
    unexpected is raised too, with its row left `sending` for the lease to decide.
    """
    tally = tally or Tally()
    waiting = deque(emails)
    running: dict[Future[Attempt], OutgoingEmail] = {}
    retry: Exception | None = None
    crash: BaseException | None = None
    paused = False
    while running or (waiting and retry is None and crash is None and not paused):
        room = 0
        if waiting and retry is None and crash is None and not paused:
            room = min(flight.window.size - len(running), len(waiting))
        if room > 0:
            try:
                granted = limiter.take(room, 0.0 if running else TOKEN_WAIT_SECONDS)
            except QuotaExhausted as exc:
                trip(str(exc), quota=True)
                paused = True
                continue
            if granted == 0 and not running:
                retry = RateLimitTimeout(f"no send token within {TOKEN_WAIT_SECONDS:.0f}s")
                continue
            if granted:
                batch = [waiting.popleft() for _ in range(granted)]
                claimed = claim(batch)
                if claimed is None:
                    waiting.extendleft(reversed(batch))
                    paused = True
                    continue
                ours, others = claimed
                tally.counts.update({k.value: n for k, n in others.items()})
                for email in ours:
                    running[flight.pool.submit(attempt, sender, email)] = email
                room = min(flight.window.size - len(running), len(waiting))
        if not running:
            continue
        # With room left and messages waiting, come back soon to ask for tokens.
        timeout = POLL_SECONDS if room > 0 else None
        done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        finished: list[Attempt] = []
        for future in done:
            del running[future]
            try:
                finished.append(future.result())
            except Exception as exc:  # kept, raised once the others are recorded
                log.exception("provider call raised; its row stays sending for the lease")
                crash = crash or exc
        record(finished)
        for outcome in finished:
            tally.client_cpu += outcome.cpu
            retry, paused = _react(outcome, flight, limiter, retry, paused)
            if outcome.outcome != Outcome.RETRY:
                tally.counts[outcome.outcome.value] += 1
    if paused:
        tally.counts[Outcome.PAUSED.value] += len(waiting)
    if crash is not None:
        raise crash
    if retry is not None:
        raise retry
    return tally


def _react(
    outcome: Attempt,
    flight: Flight,
    limiter: RateLimiter,
    retry: Exception | None,
    paused: bool,
) -> tuple[Exception | None, bool]:
    """Open the window on a success; close it, and stop the chunk, on throttling or pause."""
    if outcome.outcome == Outcome.SENT:
        flight.window.opened()
    elif outcome.outcome == Outcome.RETRY:
        flight.window.closed()
        if retry is None:
            limiter.slow_down()
            assert isinstance(outcome.error, TransientSendError)
            retry = outcome.error
    elif outcome.outcome == Outcome.PAUSED:
        flight.window.closed()
        if not paused:
            trip(str(outcome.error), quota=isinstance(outcome.error, QuotaSendError))
            paused = True
    return retry, paused


__all__ = ["Flight", "Tally", "Window", "send_emails"]
