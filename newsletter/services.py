"""The per-process services: connections, clients and caches, built once and reset as one.

A process (a Celery worker child, the web app, a CLI command, a test) reuses its
database engine, mail sender, rate limiter and per-edition caches across calls. They
live here, in one object, instead of as module globals: Celery's `worker_process_init`
and FastAPI's lifespan call `reset()` so a forked child never shares its parent's
sockets, and tests call `reset()` before each test instead of reaching into private names.

This module knows no concrete service: each owner builds its own through `resource()`
(`newsletter.db` its engines, `newsletter.delivery.backends` the sender), which keeps
the import graph one-way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from newsletter.config import Settings, get_settings

log = logging.getLogger(__name__)

T = TypeVar("T")


class Services:
    """One process's resources, keyed by name; `close()` releases every one of them."""

    def __init__(self) -> None:
        self._resources: dict[Hashable, Any] = {}
        self._closers: list[tuple[Hashable, Callable[[Any], object]]] = []
        self._lock = threading.RLock()

    @property
    def settings(self) -> Settings:
        """The process settings (read from the environment once; `reset()` re-reads)."""
        return get_settings()

    def resource(
        self,
        key: Hashable,
        build: Callable[[Settings], T],
        close: Callable[[T], object] | None = None,
    ) -> T:
        """Return the resource named `key`, building it on first use (thread-safe)."""
        try:
            return self._resources[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._resources:
                self._resources[key] = build(self.settings)
                if close is not None:
                    self._closers.append((key, close))
            return self._resources[key]

    def provide(self, key: Hashable, value: object) -> None:
        """Install a ready-made resource under `key` (a custom sender, a test double)."""
        with self._lock:
            self._resources[key] = value

    def cache(self, name: str) -> dict[Any, Any]:
        """Return a per-process dict cache named `name` (emptied by `reset()`)."""
        return self.resource(("cache", name), lambda _settings: {})

    def close(self) -> None:
        """Close every resource that has a closer (engines dispose their pools)."""
        with self._lock:
            for key, closer in reversed(self._closers):
                try:
                    closer(self._resources[key])
                except Exception:  # a half-dead connection must not stop the others closing
                    log.warning("closing %r failed", key, exc_info=True)
            self._resources.clear()
            self._closers.clear()


_current: Services | None = None
_current_lock = threading.Lock()


def current() -> Services:
    """Return this process's services, built from the settings on first use."""
    global _current
    services = _current
    if services is None:
        with _current_lock:
            if _current is None:
                _current = Services()
            services = _current
    return services


def reset() -> None:
    """Forget the settings and close every resource; the next use rebuilds from the env.

    Called after a fork (a child must open its own connections), when the web app
    starts and stops, and by tests between tests.
    """
    global _current
    with _current_lock:
        services, _current = _current, None
    if services is not None:
        services.close()
    get_settings.cache_clear()
