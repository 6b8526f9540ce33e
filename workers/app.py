"""The Celery application: queues, routes, reliability defaults and the beat schedule.

With no REDIS_URL (the embedded default) tasks run eagerly in-process, so the same task
code drives the demo and production.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import before_task_publish
from kombu import Queue
from kombu import pools as kombu_pools

from newsletter.config import Settings, get_settings
from newsletter.ingest.plan import scheduled_ingests
from newsletter.ranking.embedder import is_off

QUEUES = ("ingest", "schedule", "render", "send")


def ingest_beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """One beat entry per configured source, each on its own cron (see newsletter.ingest.plan)."""
    return {
        entry.name: {
            "task": "workers.tasks.ingest_source",
            "schedule": crontab(**entry.crontab_kwargs()),
            "args": (entry.source, entry.options),
        }
        for entry in scheduled_ingests(settings)
    }


def make_app() -> Celery:
    settings = get_settings()
    broker = settings.redis_url or "memory://"
    app = Celery("newsletter", broker=broker, include=["workers.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # No result backend: nothing reads task results, and it costs ~30 % throughput.
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_send_sent_event=True,
        worker_send_task_events=True,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="schedule",
        task_routes={
            "workers.tasks.ingest_source": {"queue": "ingest"},
            "workers.tasks.embed_missing": {"queue": "ingest"},
            "workers.tasks.plan_due": {"queue": "schedule"},
            "workers.tasks.expire_leases": {"queue": "schedule"},
            "workers.tasks.pick_chunk": {"queue": "render"},
            "workers.tasks.send_chunk": {"queue": "send"},
        },
        # Redis redelivers unacknowledged tasks after this; longer than any task runs.
        broker_transport_options={"visibility_timeout": 3600},
        broker_connection_retry_on_startup=True,
        task_always_eager=settings.embedded,
        task_eager_propagates=True,
        enable_utc=True,
        beat_schedule_filename=str(settings.beat_schedule),
        beat_schedule={
            # Each tick plans who is due, requeues lost messages and expires stuck
            # claims; a missed tick only makes sends late (see newsletter.schedule).
            "plan-due": {
                "task": "workers.tasks.plan_due",
                "schedule": settings.plan_interval_seconds,
                "options": {"expires": settings.plan_interval_seconds},
            },
            "expire-leases": {"task": "workers.tasks.expire_leases", "schedule": 60.0},
            # Readers' new keywords get their vectors within the interval; until then
            # they rank by tf-idf alone. Only when embeddings are on.
            **(
                {
                    "embed-missing": {
                        "task": "workers.tasks.embed_missing",
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
    app.conf.task_always_eager = settings.embedded
    # Close and forget kombu's process-wide connection and producer pools too: they are
    # keyed by broker URL, so a later test on the same Redis database would otherwise
    # get a producer pool whose connections were closed here ("Acquire on closed pool").
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


app = make_app()
