"""A whole edition through real Celery workers, real Redis and PostgreSQL, and moto SES."""

from __future__ import annotations

import email

import pytest
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Delivery, DeliveryState
from newsletter.timeutil import utcnow
from tests.delivery.helpers import add_readers, expected_recipients, states, wait_for
from tests.sesproxy import SES_ENV
from workers.tasks import plan_due

pytestmark = pytest.mark.integration


def worker_ses_env(ses) -> dict[str, str]:
    return {
        **SES_ENV,
        "NEWSLETTER_SES_ENDPOINT_URL": ses.url,
        "NEWSLETTER_SEND_ON_QUIET_DAYS": "true",
    }


def test_two_thousand_readers_in_24_timezones_each_get_exactly_one_email(
    ses, pg_url, redis_url, start_worker
):
    from newsletter.ingest.service import run_ingest

    run_ingest("sample")
    add_readers(2000)
    env = worker_ses_env(ses)
    start_worker(concurrency=2, env=env)
    start_worker(concurrency=2, env=env)

    plan_due.delay(utcnow().isoformat())

    wait_for(lambda: states().get("sent", 0) == 2000, timeout=150, interval=1.0)
    assert states() == {"sent": 2000}

    sent = ses.sent()
    by_recipient: dict[str, list[email.message.Message]] = {}
    for item in sent:
        message = email.message_from_string(item["raw_data"])
        by_recipient.setdefault(str(message["To"]), []).append(message)
        assert set(item["destinations"]) == {message["To"]}
    assert set(by_recipient) == expected_recipients()
    assert {len(messages) for messages in by_recipient.values()} == {1}
    for [message] in by_recipient.values():
        assert message["From"] == "Trending Papers <digest@papers.example.com>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] and message["Message-ID"] and message["Subject"]
        assert message.is_multipart()
    with session_scope() as session:
        ids = set(session.scalars(select(Delivery.provider_message_id)))
        assert ids == {item["id"] for item in sent}
        assert (
            session.scalar(select(Delivery.id).where(Delivery.state != DeliveryState.SENT)) is None
        )
    # The rate limiter asked GetAccount once per refresh, not once per message.
    assert ses.proxy.state.account_calls <= 4
