"""One send rate for the whole fleet: a token bucket in Redis, taken by an atomic Lua script.

Celery's own `rate_limit` is per worker process, so N workers would send N times the
account's rate and SES would drop (not queue) the excess. Every worker takes a token
from the same bucket instead; the script reads Redis's clock, so workers' clocks do not
matter. The bucket also counts down what is left of the 24-hour quota when SES told us.

Embedded runs (no Redis) use an in-process bucket, which is exact for one process.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

BUCKET_KEY = "newsletter:send:bucket"
QUOTA_KEY = "newsletter:send:quota"
ACCOUNT_KEY = "newsletter:ses:account"
# SES's account figures change slowly; one GetAccount per this many seconds is plenty.
ACCOUNT_TTL = 300

# KEYS[1] bucket hash {tokens, ts}; KEYS[2] remaining 24-hour quota (absent = unlimited).
# ARGV[1] rate per second, ARGV[2] burst, ARGV[3] tokens wanted (at most this many are
# taken, as many as the bucket holds). Returns {n, 0} n taken, {0, wait_ms} empty,
# {-1, 0} quota exhausted.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3] or '1')
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local quota = redis.call('GET', KEYS[2])
if quota and tonumber(quota) <= 0 then
  return {-1, 0}
end
if quota then want = math.min(want, tonumber(quota)) end
local taken = math.min(want, math.floor(tokens))
local wait = 0
if taken >= 1 then
  tokens = tokens - taken
  if quota then redis.call('DECRBY', KEYS[2], taken) end
else
  taken = 0
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 600000)
return {taken, wait}
"""


class RateLimitTimeout(Exception):
    """No token came within the wait allowed: the caller retries later."""


class QuotaExhausted(Exception):
    """The 24-hour sending quota is used up: pause sending, do not retry now."""


class RateLimiter(Protocol):
    @property
    def rate(self) -> float:
        """Messages per second for the whole fleet (math.inf: no limit)."""
        ...

    def acquire(self, timeout: float = 60.0) -> None:
        """Wait for one token; RateLimitTimeout if none comes within `timeout` seconds."""
        ...

    def take(self, wanted: int, wait: float = 60.0) -> int:
        """Take up to `wanted` tokens, waiting at most `wait` seconds for the first.

        Returns how many were taken (0 when none came in time): a sender with several
        requests in flight takes what the bucket holds in one round trip.
        """
        ...

    def slow_down(self) -> None: ...


def burst_for(rate: float) -> float:
    """Allow a tiny burst only: any 2-second window stays within a few % of the rate.

    A burst of b lets 2*rate + b through in two seconds; b = rate/50 keeps that 1 % over
    (plus the jitter of requests arriving at SES), well inside SES's tolerance.
    """
    return max(1.0, rate / 50.0)


class NoLimit:
    """Backends with no meaningful rate (file, console) send as fast as they can."""

    rate = math.inf

    def acquire(self, timeout: float = 60.0) -> None:
        return None

    def take(self, wanted: int, wait: float = 60.0) -> int:
        return wanted

    def slow_down(self) -> None:
        return None


class LocalTokenBucket:
    """A token bucket for one process (the embedded default)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst or burst_for(rate)
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self, timeout: float = 60.0) -> None:
        if not self.take(1, timeout):
            raise RateLimitTimeout(f"no send token within {timeout:.0f}s")

    def take(self, wanted: int, wait: float = 60.0) -> int:
        deadline = time.monotonic() + wait
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    taken = min(wanted, int(self.tokens))
                    self.tokens -= taken
                    return taken
                pause = (1 - self.tokens) / self.rate
            if time.monotonic() + pause > deadline:
                return 0
            time.sleep(pause)

    def slow_down(self) -> None:
        with self.lock:
            self.tokens = 0.0
            self.stamp = time.monotonic()


@dataclass
class RedisTokenBucket:
    """The fleet-wide bucket; `rate` is re-read every minute so a new quota takes effect."""

    client: redis.Redis
    rate_source: Callable[[], float]
    refresh_every: float = 60.0

    def __post_init__(self) -> None:
        self._take = self.client.register_script(_TAKE)
        self._rate = 0.0
        self._rate_at = 0.0

    @property
    def rate(self) -> float:
        if time.monotonic() - self._rate_at > self.refresh_every or self._rate <= 0:
            self._rate = self.rate_source()
            self._rate_at = time.monotonic()
        return self._rate

    def acquire(self, timeout: float = 60.0) -> None:
        if not self.take(1, timeout):
            raise RateLimitTimeout(f"no send token within {timeout:.0f}s")

    def take(self, wanted: int, wait: float = 60.0) -> int:
        deadline = time.monotonic() + wait
        rate = self.rate
        while True:
            taken, wait_ms = self._take(
                keys=[BUCKET_KEY, QUOTA_KEY], args=[rate, burst_for(rate), max(1, wanted)]
            )
            if int(taken) >= 1:
                return int(taken)
            if int(taken) == -1:
                raise QuotaExhausted("the 24-hour sending quota is used up")
            # Jitter so waiting workers do not all ask again in the same millisecond.
            pause = int(wait_ms) / 1000.0 * random.uniform(1.0, 1.3)
            if time.monotonic() + pause > deadline:
                return 0
            time.sleep(pause)

    def slow_down(self) -> None:
        """Empty the bucket after a throttling answer: every worker waits a beat."""
        self.client.hset(BUCKET_KEY, mapping={"tokens": "0", "ts": _redis_now(self.client)})


def _redis_now(client: redis.Redis) -> str:
    seconds, micros = client.time()
    return str(int(seconds) + int(micros) / 1_000_000)


def cached_account(client: redis.Redis, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return SES's account figures, asking GetAccount at most once per ACCOUNT_TTL.

    The remaining 24-hour quota is stored beside the bucket so the Lua script can count
    it down between refreshes.
    """
    cached = client.get(ACCOUNT_KEY)
    if cached:
        return dict(json.loads(cached))
    account = fetch()
    client.set(ACCOUNT_KEY, json.dumps(account, default=str), ex=ACCOUNT_TTL)
    quota = account.get("SendQuota", {})
    max_24h = float(quota.get("Max24HourSend", -1))
    if max_24h >= 0:
        remaining = int(max_24h - float(quota.get("SentLast24Hours", 0)))
        client.set(QUOTA_KEY, max(0, remaining), ex=ACCOUNT_TTL)
    else:
        client.delete(QUOTA_KEY)
    return dict(account)


def clear(client: redis.Redis) -> None:
    """Forget the bucket, quota and cached account (after an operator resumes sending)."""
    client.delete(BUCKET_KEY, QUOTA_KEY, ACCOUNT_KEY)
