"""Count every Celery task run and give its log lines their context, from task signals.

task_prerun starts the clock and sets the log context (task id, task, queue, and the
edition or delivery ids the arguments name); task_postrun counts the run by state and
observes its duration, then clears the context; task_failure and task_retry count
those. The metric objects are newsletter.metrics'; in multiprocess mode
(PROMETHEUS_MULTIPROC_DIR) each worker child writes its own file and /metrics adds
them up.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
)

from newsletter import metrics, services
from newsletter.config import get_settings
from newsletter.logging_setup import clear_context, install, update_context
from newsletter.queues import TASK_QUEUES

_STARTED = "task-started"  # services cache: task id -> perf_counter at prerun


def short_name(task_name: str | None) -> str:
    """`workers.tasks.send_chunk` -> `send_chunk` (the names of newsletter.queues)."""
    return (task_name or "unknown").rsplit(".", 1)[-1]


def labels_of(task: Any) -> tuple[str, str]:
    """Return the (task, queue) labels of a task object (its queue from the registry)."""
    name = short_name(getattr(task, "name", None))
    queue = TASK_QUEUES.get(name)
    return name, queue.value if queue is not None else "unknown"


def context_of(name: str, args: Any) -> dict[str, Any]:
    """The ids a task's arguments name, for its log lines."""
    args = list(args or ())
    if name in ("rank_chunk", "send_chunk") and args and isinstance(args[0], list):
        ids = args[0]
        return {
            "delivery_ids": ",".join(str(i) for i in ids[:20]) + (",..." if len(ids) > 20 else "")
        }
    if name == "send_transactional" and args:
        return {"mail_id": args[0]}
    if name == "ingest_source" and args:
        return {"source": args[0]}
    return {}


@task_prerun.connect
def task_started(task_id: str | None = None, task: Any = None, args: Any = None, **_: Any) -> None:
    name, queue = labels_of(task)
    clear_context()
    update_context(task_id=task_id, task=name, queue=queue, **context_of(name, args))
    services.current().cache(_STARTED)[task_id] = time.perf_counter()


@task_postrun.connect
def task_ended(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    name, queue = labels_of(task)
    started = services.current().cache(_STARTED).pop(task_id, None)
    if started is not None:
        metrics.TASK_DURATION.labels(name, queue).observe(time.perf_counter() - started)
    metrics.TASK_RUNS.labels(name, queue, state or "UNKNOWN").inc()
    clear_context()


@task_failure.connect
def task_failed(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    name, queue = labels_of(sender)
    metrics.TASK_FAILURES.labels(name, queue, type(exception).__name__).inc()


@task_retry.connect
def task_retried(sender: Any = None, **_: Any) -> None:
    name, queue = labels_of(sender)
    metrics.TASK_RETRIES.labels(name, queue).inc()


@after_setup_logger.connect
@after_setup_task_logger.connect
def structured_logs(logger: logging.Logger | None = None, **_: Any) -> None:
    """Add the context to Celery's log handlers; JSON lines with NEWSLETTER_LOG_FORMAT=json."""
    if logger is None:
        return
    log_format = get_settings().log_format
    for handler in logger.handlers:
        install(handler, log_format, keep_formatter=True)
