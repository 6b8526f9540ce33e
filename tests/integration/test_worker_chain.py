"""One edition through real Celery workers over real Redis and PostgreSQL."""

from __future__ import annotations

import email
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletter.db import session_scope
from newsletter.ingest.service import run_ingest
from newsletter.models import Delivery, DeliveryState
from newsletter.subscriptions.service import Preferences, add_subscriber
from newsletter.timeutil import utcnow
from workers.tasks import plan_due

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_plan_pick_send_chain_runs_on_a_real_worker(start_worker, isolated_settings: Path):
    run_ingest("sample")
    with session_scope() as session:
        for n, tz in enumerate(["UTC", "Asia/Tokyo", "America/Denver"]):
            add_subscriber(
                session,
                f"reader{n}@example.org",
                Preferences(keywords=["out-of-distribution"], timezone=tz, send_hour=0),
                confirmed=True,
            )
    # Real time: on a weekend daily digests would (rightly) wait for Monday.
    start_worker(env={"NEWSLETTER_SEND_ON_QUIET_DAYS": "true"})

    plan_due.delay(utcnow().isoformat())

    def all_sent() -> bool:
        with session_scope() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.state == DeliveryState.SENT)
                )
                == 3
            )

    wait_for(all_sent)
    files = sorted(isolated_settings.glob("*.eml"))
    assert len(files) == 3
    recipients = sorted(email.message_from_bytes(f.read_bytes())["To"] for f in files)
    assert recipients == [f"reader{n}@example.org" for n in range(3)]
