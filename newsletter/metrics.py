"""Counters and histograms that processes keep about their own work, for /metrics.

The gauges of /metrics are read fresh from the database and the broker per scrape
(newsletter/web/routes/metrics.py); what only a running process knows (how long a
task took, how long SES took to answer, how each send ended) is counted here.

With PROMETHEUS_MULTIPROC_DIR set (a directory shared by every worker and web process
of one host, emptied before they start), prometheus-client keeps these values in one
file per process, so every Celery worker child counts and /metrics adds them all up.
Without it each process counts only its own, which is what a test or the embedded
default needs.

The metric objects live in their own registry, not the library's global one: /metrics
decides what to add (this registry, or the multiprocess files), never an import side
effect.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Celery tasks: from the signals connected in workers/metrics.py.
TASK_RUNS = Counter(
    "newsletter_task_runs",
    "Celery task runs that ended, by task, queue and state (SUCCESS, FAILURE, RETRY)",
    ["task", "queue", "state"],
    registry=REGISTRY,
)
TASK_DURATION = Histogram(
    "newsletter_task_duration_seconds",
    "Wall time of Celery task runs, by task and queue",
    ["task", "queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
    registry=REGISTRY,
)
TASK_FAILURES = Counter(
    "newsletter_task_failures",
    "Celery task runs that raised, by task, queue and exception type",
    ["task", "queue", "exception"],
    registry=REGISTRY,
)
TASK_RETRIES = Counter(
    "newsletter_task_retries",
    "Celery task retries requested, by task and queue",
    ["task", "queue"],
    registry=REGISTRY,
)
# Sending: digests (newsletter.chain) and transactional emails, by how each ended.
SENDS = Counter(
    "newsletter_sends",
    "Emails handed to the send step, by kind (digest, transactional) and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
PROVIDER_SECONDS = Histogram(
    "newsletter_provider_send_seconds",
    "Time the mail provider took to answer one send call, by backend and result",
    ["backend", "result"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10, 20),
    registry=REGISTRY,
)
PRUNED_ROWS = Counter(
    "newsletter_pruned_rows",
    "Rows deleted by the retention task, by table",
    ["table"],
    registry=REGISTRY,
)


def count_send(kind: str, outcome: str) -> None:
    """Count one email that reached the end of the send step."""
    SENDS.labels(kind, str(outcome)).inc()


@contextmanager
def provider_call(backend: str) -> Iterator[None]:
    """Time one call to the mail provider; an exception is recorded as result="error"."""
    started = time.perf_counter()
    result = "error"
    try:
        yield
        result = "ok"
    finally:
        PROVIDER_SECONDS.labels(backend, result).observe(time.perf_counter() - started)
