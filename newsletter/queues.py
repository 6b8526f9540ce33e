"""The queues, the tasks each one runs, and the port through which work is queued.

This is the one registry of queue and task names: the Celery app in workers/ builds
its queues and routes from it, the operator view reads it, and `broker()` queues a task
by its name here. The package itself never imports Celery or workers/: the broker is a
plugin (the `newsletter.broker` entry point, `workers.broker:CeleryBroker`), loaded only
when REDIS_URL is set. Without it (the embedded default) the chain runs in-process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from newsletter.config import ConfigError, Settings
from newsletter.services import current


class Queue(enum.StrEnum):
    """Each queue is named after what its workers do."""

    INGEST = "ingest"  # fetch sources, store papers, embed them
    SCHEDULE = "schedule"  # plan who is due, requeue lost work, expire claims, prune
    RANK = "rank"  # rank a chunk of readers against the edition and record the picks
    SEND = "send"  # render each picked delivery and hand it to the provider
    # Confirmation, welcome, goodbye and change-of-address emails: workers of their own
    # (Procfile `mail`), so a person waiting for a link never waits behind an edition.
    TRANSACTIONAL = "transactional"


# Every task, by the name it has on the wire, and the queue that runs it.
TASK_QUEUES: dict[str, Queue] = {
    "ingest_source": Queue.INGEST,
    "embed_missing": Queue.INGEST,
    "plan_due": Queue.SCHEDULE,
    "expire_leases": Queue.SCHEDULE,
    "rank_chunk": Queue.RANK,
    "send_chunk": Queue.SEND,
    "send_transactional": Queue.TRANSACTIONAL,
    "requeue_mail": Queue.SCHEDULE,
    "prune_old_rows": Queue.SCHEDULE,
}
# Task messages carry the full name of the Celery task that runs them.
TASK_MODULE = "workers.tasks"


def task_name(task: str) -> str:
    """Return the wire name of `task` (one of TASK_QUEUES)."""
    if task not in TASK_QUEUES:
        raise KeyError(f"unknown task {task!r}; known: {sorted(TASK_QUEUES)}")
    return f"{TASK_MODULE}.{task}"


@dataclass
class WorkerStats:
    """What one running worker told us about itself."""

    name: str
    queues: list[str]
    active: list[str] = field(default_factory=list)
    processed: int = 0


class Broker(Protocol):
    """Queue work for the workers and ask them what they do."""

    def enqueue(self, task: str, *args: Any) -> None:
        """Queue `task` (a name of TASK_QUEUES) with JSON-able `args` on its queue."""

    def inspect_workers(self, timeout: float) -> list[WorkerStats]:
        """Return the running workers that answered within `timeout` seconds."""

    def close(self) -> None:
        """Release the broker connections."""


BROKER_ENTRY_POINTS = "newsletter.broker"


def _load_broker(settings: Settings) -> Broker:
    if settings.redis_url is None:
        raise ConfigError("no broker configured: set REDIS_URL to queue work for workers")
    found = entry_points(group=BROKER_ENTRY_POINTS)
    if not found:
        raise ConfigError(
            "REDIS_URL is set but no broker plugin is installed "
            f"(entry point group {BROKER_ENTRY_POINTS!r}); reinstall the package"
        )
    factory = next(iter(found)).load()
    broker: Broker = factory(settings)
    return broker


def broker() -> Broker:
    """Return this process's broker client (REDIS_URL must be set)."""
    return current().resource("broker", _load_broker, lambda b: b.close())
