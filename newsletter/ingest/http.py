"""One polite HTTP client for every source: retries, timeouts, rate limits, conditional GETs.

Sources are public services run on goodwill. urllib3's Retry does the backoff (and
honours Retry-After on 429/503) so no source module writes its own retry loop; a per-host
minimum interval keeps us within arXiv's "one request every 3 seconds".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from newsletter import services
from newsletter.config import Settings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A source could not be fetched; the message says which URL and why."""


class TransientFetchError(FetchError):
    """Worth trying again later: timeouts, refused connections, 429/5xx after all retries."""


class PermanentFetchError(FetchError):
    """Retrying will not help (404, 400, ...): the URL or the request is wrong."""


class _CappedRetry(Retry):
    """Honour Retry-After, but never park a worker for an hour on one header.

    urllib3 retries the first failure at once; MIN_BACKOFF (the source's minimum request
    interval) keeps even that retry within arXiv's one-request-per-3-seconds rule.
    """

    RETRY_AFTER_CAP = 120.0
    MIN_BACKOFF = 0.0

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.RETRY_AFTER_CAP)

    def get_backoff_time(self) -> float:
        return max(super().get_backoff_time(), self.MIN_BACKOFF)


@dataclass
class Fetched:
    """One HTTP response, reduced to what the parsers and the run record need."""

    url: str
    status: int
    content: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class _LocalThrottle:
    """Per-host time of the last request, shared by every client in the process, so two
    runs back to back in one worker still keep the interval."""

    last_request: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SharedThrottle:
    """The per-host interval kept across worker processes, in Redis.

    A key per host lives for the interval; whoever sets it (SET NX PX) may send, the
    others wait for it to expire. If Redis fails, the process-local throttle still holds.
    """

    def __init__(self, redis_url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def wait_turn(self, host: str, min_interval: float, max_wait: float = 600.0) -> bool:
        """Wait until this process may send to `host`; False if Redis could not be used."""
        key = f"newsletter:ingest:throttle:{host}"
        ms = max(1, int(min_interval * 1000))
        deadline = time.monotonic() + max_wait
        try:
            while not self._redis.set(key, "1", nx=True, px=ms):
                if time.monotonic() > deadline:
                    raise TransientFetchError(f"{host}: waited {max_wait:g}s for a turn")
                remaining = self._redis.pttl(key)
                time.sleep(max(remaining, 5) / 1000)
        except self._errors:
            return False
        return True

    def close(self) -> None:
        self._redis.close()


def _wait_turn(host: str, min_interval: float) -> None:
    if min_interval <= 0:
        return
    throttle = services.current().resource("ingest_throttle", lambda _s: _LocalThrottle())
    with throttle.lock:
        now = time.monotonic()
        due = throttle.last_request.get(host, 0.0) + min_interval
        if due > now:
            time.sleep(due - now)
        throttle.last_request[host] = time.monotonic()


class HttpClient:
    """A requests Session with retries, timeouts, a User-Agent and an optional rate limit."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        retries: int,
        backoff: float,
        min_interval: float = 0.0,
        redis_url: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.min_interval = min_interval
        # Several worker processes may fetch from one host at once: share the interval.
        self.shared = SharedThrottle(redis_url) if redis_url and min_interval > 0 else None
        # A subclass per client: urllib3 copies a Retry by its class, not its attributes.
        retry_class = type("SourceRetry", (_CappedRetry,), {"MIN_BACKOFF": min_interval})
        retry = retry_class(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            backoff_max=60,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=1)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent

    @classmethod
    def for_source(cls, settings: Settings, *, arxiv: bool = False) -> HttpClient:
        """Build the client a source should use (arXiv's hosts get the rate limit)."""
        return cls(
            user_agent=settings.http_user_agent,
            timeout=settings.http.timeout,
            retries=settings.http.retries,
            backoff=settings.http.backoff,
            min_interval=settings.arxiv.min_interval if arxiv else 0.0,
            redis_url=settings.redis_url,
        )

    def get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        validators: dict[str, str] | None = None,
    ) -> Fetched:
        """GET `url`; 304 comes back as a Fetched with not_modified set, errors as FetchError."""
        headers: dict[str, str] = {}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        host = urlsplit(url).netloc
        if self.shared is None or not self.shared.wait_turn(host, self.min_interval):
            _wait_turn(host, self.min_interval)
        try:
            response = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransientFetchError(f"{url}: timed out after {self.timeout:g}s ({exc})") from exc
        except requests.ConnectionError as exc:
            raise TransientFetchError(f"{url}: cannot connect ({_reason(exc)})") from exc
        except requests.RequestException as exc:
            raise PermanentFetchError(f"{url}: {exc}") from exc
        if response.status_code == 304:
            return Fetched(url=response.url, status=304, content=b"", **_validators(response))
        if response.status_code in RETRY_STATUSES:
            raise TransientFetchError(f"{response.url}: HTTP {response.status_code} after retries")
        if response.status_code >= 400:
            raise PermanentFetchError(f"{response.url}: HTTP {response.status_code}")
        return Fetched(
            url=response.url,
            status=response.status_code,
            content=response.content,
            **_validators(response),
        )

    def close(self) -> None:
        self.session.close()
        if self.shared is not None:
            self.shared.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _validators(response: requests.Response) -> dict[str, str | None]:
    return {
        "etag": response.headers.get("ETag"),
        "last_modified": response.headers.get("Last-Modified"),
    }


def _reason(exc: BaseException) -> str:
    # requests wraps urllib3's MaxRetryError; its .reason is the readable part.
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    return str(reason or inner)
