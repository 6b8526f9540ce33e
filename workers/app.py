"""The Celery application: queues, routes, reliability defaults and the beat schedule.

Queue and task names come from newsletter.queues. Without REDIS_URL (the embedded
default) nothing here runs: newsletter.chain runs the steps in-process.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import before_task_publish, worker_process_init
from kombu import Queue
from kombu import pools as kombu_pools

from newsletter import services
from newsletter.config import Settings, get_settings
from newsletter.ingest.plan import scheduled_ingests
from newsletter.queues import TASK_QUEUES, task_name
from newsletter.queues import Queue as QueueName
from newsletter.ranking.embedder import is_off
from workers import metrics as task_metrics  # noqa: F401  (connects the task signals)


def ingest_beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """One beat entry per configured source, each on its own cron (see newsletter.ingest.plan)."""
    return {
        entry.name: {
            "task": task_name("ingest_source"),
            "schedule": crontab(**entry.crontab_kwargs()),
            "args": (entry.source, entry.options),
        }
        for entry in scheduled_ingests(settings)
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    """The options every Celery app of ours shares, the workers' and the clients'."""
    return {
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # No result backend: nothing reads task results, and it costs ~30 % throughput.
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "task_queues": [Queue(queue.value) for queue in QueueName],
        "task_default_queue": QueueName.SCHEDULE.value,
        "task_routes": {task_name(task): {"queue": q.value} for task, q in TASK_QUEUES.items()},
        # Redis redelivers unacknowledged tasks after this; longer than any task runs.
        "broker_transport_options": {"visibility_timeout": 3600},
        "broker_connection_retry_on_startup": True,
        "enable_utc": True,
    }


def make_app() -> Celery:
    settings = get_settings()
    app = Celery("newsletter", broker=settings.redis_url or "memory://", include=["workers.tasks"])
    app.conf.update(celery_config(settings))
    app.conf.update(
        beat_schedule_filename=str(settings.beat_schedule),
        beat_schedule={
            # Each tick plans who is due, requeues lost messages and expires stuck
            # claims; a missed tick only makes sends late (see newsletter.schedule).
            "plan-due": {
                "task": task_name("plan_due"),
                "schedule": settings.plan_interval_seconds,
                "options": {"expires": settings.plan_interval_seconds},
            },
            "expire-leases": {"task": task_name("expire_leases"), "schedule": 60.0},
            # Confirmation and welcome emails whose task messages were lost go out late,
            # never not at all (and never twice: each row is claimed once).
            "requeue-mail": {
                "task": task_name("requeue_mail"),
                "schedule": settings.plan_interval_seconds,
                "options": {"expires": settings.plan_interval_seconds},
            },
            # Old SES events, ingest runs and sent deliveries (newsletter.retention).
            "prune-old-rows": {
                "task": task_name("prune_old_rows"),
                "schedule": crontab(minute=40, hour=4),
                "options": {"expires": 3600},
            },
            # Readers' new keywords get their vectors within the interval; until then
            # they rank by tf-idf alone. Only when embeddings are on.
            **(
                {
                    "embed-missing": {
                        "task": task_name("embed_missing"),
                        "schedule": 600.0,
                        "options": {"expires": 600.0},  # never a pile of them
                    }
                }
                if not is_off(settings.embeddings)
                else {}
            ),
            **ingest_beat_entries(settings),
        },
    )
    return app


@worker_process_init.connect
def fresh_services(**_: Any) -> None:
    """Give each forked worker process its own connections (never its parent's sockets)."""
    services.reset()


@before_task_publish.connect
def stamp_published_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Stamp each task message with when it was queued.

    Celery's message protocol carries no send time, and the operator view needs the age
    of the oldest message per queue (newsletter.monitoring reads this header).
    """
    if headers is not None:
        headers.setdefault("published_at", time.time())


def reconfigure(app: Celery) -> None:
    """Point an existing app at the current settings' broker (tests switch brokers)."""
    settings = get_settings()
    app.conf.broker_url = settings.redis_url or "memory://"
    # Close and forget kombu's process-wide connection and producer pools too: they are
    # keyed by broker URL, so a later test on the same Redis database would otherwise
    # get a producer pool whose connections were closed here ("Acquire on closed pool").
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


app = make_app()
