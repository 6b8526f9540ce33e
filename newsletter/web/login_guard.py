"""Slow down password guessing on /admin: count failed sign-ins per client.

After MAX_FAILURES wrong user/password pairs from one client address within WINDOW,
that client gets 429 until the window has passed, even with the right password (else
the limit would not slow guessing at all). With Redis configured, all web processes
share the count; the embedded default counts in the process, which is the only one.
The guard lives on the app (`app.state`), so each app, and each test, has its own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis

log = logging.getLogger(__name__)

MAX_FAILURES = 10
WINDOW_SECONDS = 300


class FailedLogins(Protocol):
    def wait_seconds(self, client: str) -> int:
        """Return how long `client` must wait before trying again (0: it may try now)."""
        ...

    def failed(self, client: str) -> None:
        """Record one failed attempt by `client`."""
        ...


class InProcessFailedLogins:
    """Counts in a dict: one window per client, started by its first failure."""

    def __init__(self, limit: int = MAX_FAILURES, window: int = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[float, int]] = {}

    def wait_seconds(self, client: str) -> int:
        with self._lock:
            started, count = self._failures.get(client, (0.0, 0))
            left = started + self.window - time.monotonic()
            if left <= 0:
                self._failures.pop(client, None)
                return 0
            return int(left) + 1 if count >= self.limit else 0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            started, count = self._failures.get(client, (now, 0))
            if now - started >= self.window:
                started, count = now, 0
            self._failures[client] = (started, count + 1)
            # Forget finished windows so a scan of many addresses cannot grow this forever.
            if len(self._failures) > 10_000:
                self._failures = {
                    k: v for k, v in self._failures.items() if now - v[0] < self.window
                }


class RedisFailedLogins:
    """Counts in Redis (INCR with an expiry), shared by every web process.

    If Redis does not answer, the count is skipped (logged): the password is still
    checked, and operators keep their page while the broker is down.
    """

    def __init__(self, url: str, limit: int = MAX_FAILURES, window: int = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._redis = redis.Redis.from_url(url)

    def _key(self, client: str) -> str:
        return f"newsletter:admin-failures:{client}"

    def wait_seconds(self, client: str) -> int:
        key = self._key(client)
        try:
            count = self._redis.get(key)
            if count is None or int(count) < self.limit:
                return 0
            return max(int(self._redis.ttl(key)), 1)
        except redis.RedisError as exc:
            log.warning("cannot read failed admin sign-ins from Redis: %s", exc)
            return 0

    def failed(self, client: str) -> None:
        key = self._key(client)
        try:
            pipe = self._redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("cannot count a failed admin sign-in in Redis: %s", exc)


def failed_logins(redis_url: str | None) -> FailedLogins:
    """Pick the shared counter when Redis is configured, else the in-process one."""
    return RedisFailedLogins(redis_url) if redis_url else InProcessFailedLogins()
