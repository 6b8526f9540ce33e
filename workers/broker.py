"""The Celery side of `newsletter.queues.Broker`: queue tasks by name, ask workers.

Registered as the `newsletter.broker` entry point (pyproject.toml), so the newsletter
package can queue work without importing Celery or this package.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from newsletter.config import Settings
from newsletter.queues import TASK_QUEUES, WorkerStats, task_name
from workers.app import celery_config


class CeleryBroker:
    """Publish task messages to Redis with a client-only Celery app of our settings."""

    def __init__(self, settings: Settings) -> None:
        if settings.redis_url is None:
            raise ValueError("CeleryBroker needs REDIS_URL")
        self.app = Celery("newsletter-client", broker=settings.redis_url)
        self.app.conf.update(celery_config(settings))

    def enqueue(self, task: str, *args: Any) -> None:
        self.app.send_task(task_name(task), args=list(args), queue=TASK_QUEUES[task].value)

    def inspect_workers(self, timeout: float) -> list[WorkerStats]:
        """Ask running workers what they consume and run (empty list: none answered)."""
        # A broadcast waits the whole timeout (it cannot know how many will answer), so
        # broadcast once; then ask the workers that answered by name, which returns as
        # soon as all of them replied.
        names = sorted(self.app.control.inspect(timeout=timeout).ping() or {})
        if not names:
            return []
        inspector = self.app.control.inspect(destination=names, timeout=timeout, limit=len(names))
        queues = inspector.active_queues() or {}
        active = inspector.active() or {}
        stats = inspector.stats() or {}
        out = []
        for name in names:
            totals = (stats.get(name) or {}).get("total") or {}
            out.append(
                WorkerStats(
                    name=name,
                    queues=sorted(q.get("name", "?") for q in queues.get(name) or []),
                    active=[
                        str(t.get("name") or t.get("type") or "?") for t in active.get(name) or []
                    ],
                    processed=sum(int(v) for v in totals.values()) if totals else 0,
                )
            )
        return out

    def close(self) -> None:
        self.app.close()
