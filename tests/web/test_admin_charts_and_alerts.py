"""/admin's charts (inline SVG from counts in the database) and the alerts added with them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient

from newsletter import chain
from newsletter.db import session_scope
from newsletter.models import Delivery, TransactionalMail
from newsletter.monitoring import overview
from newsletter.operations.history import daily_rates, sends_per_minute
from newsletter.subscriptions.bounces import record_ses_event
from newsletter.web.charts import axis_top, nice_ceiling
from tests.subscriptions.factories import make_sent_digest, make_subscriber
from tests.subscriptions.sns_helpers import bounce, complaint
from tests.web.admin_support import admin

__all__ = ["admin"]

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)


def sent_at(*moments: datetime) -> None:
    """One reader per moment, each with a digest sent then."""
    for n, moment in enumerate(moments):
        reader = make_subscriber(f"s{n}@example.org")
        delivery_id = make_sent_digest(
            reader.id, [("2411.00001", "P")], edition_key=f"daily-{n}", message_id=f"m-{n}"
        )
        with session_scope() as session:
            session.get_one(Delivery, delivery_id).sent_at = moment


def test_sends_per_minute_counts_digests_and_other_emails_by_minute(db_url: str):
    sent_at(NOW - timedelta(minutes=1), NOW - timedelta(seconds=50), NOW - timedelta(hours=25))
    with session_scope() as session:
        session.add(
            TransactionalMail(
                kind="welcome", subscriber_id=1, recipient="s0@example.org", state="sent",
                sent_at=NOW - timedelta(seconds=10),
            )
        )  # fmt: skip
    with session_scope() as session:
        minutes = sends_per_minute(session, NOW)
    assert len(minutes) == 1440
    assert minutes[-1] == 1 and minutes[-2] == 2  # 12:00 and 11:59; 25 h ago is out
    assert sum(minutes) == 3


def test_daily_rates_divide_permanent_bounces_and_complaints_by_sends(db_url: str):
    sent_at(*(NOW - timedelta(hours=h) for h in (1, 2, 3, 4)))
    with time_machine.travel(NOW - timedelta(hours=1), tick=False), session_scope() as session:
        record_ses_event(session, "sns-1", json.dumps(bounce(["s0@example.org"])))
        transient = bounce(["s1@example.org"], bounce_type="Transient")
        record_ses_event(session, "sns-2", json.dumps(transient))
        record_ses_event(session, "sns-3", json.dumps(complaint(["s2@example.org"])))
    with session_scope() as session:
        days = daily_rates(session, NOW)
    assert len(days) == 30 and days[-1].day == datetime(2026, 11, 26, tzinfo=UTC)
    assert (days[-1].sent, days[-1].bounces, days[-1].complaints) == (4, 1, 1)
    assert days[-1].bounce_rate == 0.25 and days[-2].bounce_rate is None


def test_the_admin_page_draws_the_charts_with_ses_review_lines(admin: TestClient):
    make_subscriber()
    page = admin.get("/admin").text
    assert page.count("<svg") == 3 and "<script" not in page
    assert "Sends per minute, last 24 hours" in page
    assert "SES review 5.0%" in page and "SES review 0.1%" in page


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 4), (3, 4), (5, 8), (7, 8), (9, 20), (130, 200), (0.0769, 0.08)]
)
def test_a_y_axis_has_four_round_steps_above_the_peak(peak: float, top: float):
    assert axis_top(peak) == pytest.approx(top)
    assert nice_ceiling(top / 4) == pytest.approx(top / 4)


def test_a_broker_with_no_worker_and_no_planning_beat_raises_alerts(redis_url: str):
    make_subscriber()
    with session_scope() as session:
        text = "\n".join(overview(session, inspect=lambda timeout: []).alerts)
    assert "no worker answered: nothing will be planned" in text
    assert "beat has never planned" in text
    chain.plan()
    with session_scope() as session:
        assert not any("beat" in a for a in overview(session, inspect=None).alerts)
    later = datetime.now(UTC) + timedelta(minutes=11)
    with time_machine.travel(later), session_scope() as session:
        text = "\n".join(overview(session, inspect=None).alerts)
    assert "beat has not planned for 11 min (it should every 5 min)" in text


def test_the_embedded_default_has_no_beat_to_alert_about():
    make_subscriber()
    with session_scope() as session:
        assert overview(session).alerts == []


def test_the_oldest_message_alert_follows_its_setting(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    from newsletter.config import get_settings
    from workers import tasks

    make_subscriber()
    with time_machine.travel(datetime.now(UTC) - timedelta(minutes=6), tick=False):
        tasks.send_chunk.delay([1])
    with session_scope() as session:
        assert not any("oldest message" in a for a in overview(session, inspect=None).alerts)
    monkeypatch.setenv("NEWSLETTER_ALERT_QUEUE_AGE_MINUTES", "5")
    get_settings.cache_clear()
    with session_scope() as session:
        text = "\n".join(overview(session, inspect=None).alerts)
    assert "queue send: oldest message waited 6 min" in text
