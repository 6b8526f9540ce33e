"""The daily prune forgets old events, runs and sent deliveries, and keeps what is needed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import (
    Delivery,
    DeliveryState,
    Edition,
    EmailEvent,
    IngestRun,
    Subscriber,
)
from newsletter.retention import prune
from newsletter.timeutil import utcnow


def test_old_rows_go_in_batches_and_recent_or_unfinished_ones_stay(db_url: str):
    now = utcnow()
    old, older, recent = (
        now - timedelta(days=20),
        now - timedelta(days=100),
        now - timedelta(days=2),
    )
    with session_scope() as session:
        reader = Subscriber(email="ada@example.org", status="active")
        edition = Edition(
            key="daily-old",
            frequency="daily",
            window_start=older,
            window_end=older,
            opened_at=older,
        )
        session.add_all([reader, edition])
        session.flush()
        events = [
            ("delivery", old, "old-delivery"),
            ("delivery", recent, "recent-delivery"),
            ("bounce", old, "bounce-in-the-30-day-rate"),
            ("bounce", older, "bounce-past-retention"),
        ] + [("open", old, f"old-open-{i}") for i in range(5)]
        session.add_all(
            EmailEvent(notification_id=nid, event_type=kind, received_at=at)
            for kind, at, nid in events
        )
        session.add_all(
            [IngestRun(source="hf", started_at=older), IngestRun(source="hf", started_at=recent)]
        )
        session.add(
            Delivery(
                edition_id=edition.id,
                subscriber_id=reader.id,
                state=DeliveryState.SENT,
                sent_at=older,
            )
        )
        second = Subscriber(email="bo@example.org", status="active")
        session.add(second)
        session.flush()
        # Never sent: an operator may still retry it, so it stays however old.
        session.add(
            Delivery(
                edition_id=edition.id,
                subscriber_id=second.id,
                state=DeliveryState.FAILED,
                created_at=older,
            )
        )

    deleted = prune(now=now, batch=2)

    assert deleted == {"email_events": 7, "ingest_runs": 1, "deliveries": 1}
    with session_scope() as session:
        kept_events = set(session.scalars(select(EmailEvent.notification_id)))
        assert kept_events == {"recent-delivery", "bounce-in-the-30-day-rate"}
        assert [r.started_at.date() for r in session.scalars(select(IngestRun))] == [recent.date()]
        assert list(session.scalars(select(Delivery.state))) == [DeliveryState.FAILED]
    assert prune(now=now) == {"email_events": 0, "ingest_runs": 0, "deliveries": 0}


def test_the_prune_task_is_on_the_schedule_queue_and_in_beat():
    from newsletter.queues import TASK_QUEUES, Queue
    from workers.app import make_app

    assert TASK_QUEUES["prune_old_rows"] == Queue.SCHEDULE
    beat = make_app().conf.beat_schedule
    assert beat["prune-old-rows"]["task"] == "workers.tasks.prune_old_rows"
