"""Transactional mail goes through its own queue: claimed once, paused and rate-limited
like digests, and still sent in-process on the embedded default."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter import services
from newsletter.db import session_scope
from newsletter.delivery import breaker
from newsletter.models import MailState, TransactionalMail
from newsletter.subscriptions.mail import MailOutcome, queue_mail, send_transactional
from newsletter.subscriptions.service import Preferences
from newsletter.subscriptions.signup import SignupOutcome, request_signup
from newsletter.timeutil import utcnow
from newsletter.web.app import create_app
from tests.subscriptions.factories import make_subscriber, outbox_messages
from tests.web.conftest import SIGNUP, csrf_of

PREFS = Preferences(keywords=["diffusion"], timezone="Europe/Berlin")


def mails() -> list[tuple[int, str, str, int]]:
    with session_scope() as session:
        rows = session.scalars(select(TransactionalMail).order_by(TransactionalMail.id))
        return [(m.id, m.kind, m.state, m.attempts) for m in rows]


def test_a_signup_page_with_workers_queues_the_confirmation_instead_of_sending_it(
    redis_url: str, isolated_settings: Path
):
    with TestClient(create_app()) as client:
        token = csrf_of(client.get("/signup").text)
        response = client.post("/signup", data={**SIGNUP, "csrf_token": token})
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert outbox_messages(isolated_settings) == []
    [(mail_id, kind, state, _)] = mails()
    assert (kind, state) == ("confirm", MailState.PENDING)
    assert redis.Redis.from_url(redis_url).llen("transactional") == 1
    # What the `transactional` worker runs:
    assert send_transactional(mail_id) == MailOutcome.SENT
    [message] = outbox_messages(isolated_settings)
    assert message["To"] == "ada@example.org"


def test_the_task_run_twice_sends_one_email(redis_url: str, isolated_settings: Path):
    subscriber = make_subscriber()
    assert queue_mail("welcome", subscriber.id)
    [(mail_id, *_)] = mails()
    assert send_transactional(mail_id) == MailOutcome.SENT
    assert send_transactional(mail_id) == MailOutcome.NOT_CLAIMED
    assert len(outbox_messages(isolated_settings)) == 1
    assert mails() == [(mail_id, "welcome", MailState.SENT, 1)]


def test_paused_sending_holds_transactional_mail_until_resumed(
    redis_url: str, isolated_settings: Path
):
    subscriber = make_subscriber()
    with session_scope() as session:
        breaker.pause(session, "operator")
    assert queue_mail("goodbye", subscriber.id)
    [(mail_id, *_)] = mails()
    assert send_transactional(mail_id) == MailOutcome.PAUSED
    assert outbox_messages(isolated_settings) == []
    assert mails()[0][2] == MailState.PENDING
    with session_scope() as session:
        breaker.resume(session)
    assert send_transactional(mail_id) == MailOutcome.SENT


def test_in_process_a_paused_sending_fails_the_email_so_the_page_can_say_so(
    isolated_settings: Path,
):
    with session_scope() as session:
        make_subscriber()
        breaker.pause(session, "operator")
    result = request_signup("new@example.org", PREFS)
    assert result.outcome == SignupOutcome.MAIL_FAILED
    assert outbox_messages(isolated_settings) == []
    assert [state for _, _, state, _ in mails()] == [MailState.FAILED]


def test_transactional_mail_takes_tokens_from_the_shared_rate_limiter(
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
):
    monkeypatch.setenv("NEWSLETTER_SEND_RATE", "4")

    services.reset()
    subscriber = make_subscriber()
    started = time.monotonic()
    for _ in range(5):
        assert queue_mail("welcome", subscriber.id)
    # A burst of one, then one token every 0.25 s.
    assert time.monotonic() - started >= 0.9
    assert len(outbox_messages(isolated_settings)) == 5


def test_an_address_suppressed_while_the_email_waited_is_not_mailed(
    redis_url: str, isolated_settings: Path
):
    from newsletter.subscriptions.bounces import suppress_for_good

    subscriber = make_subscriber()
    assert queue_mail("welcome", subscriber.id)
    with session_scope() as session:
        suppress_for_good(session, subscriber.email, "bounce", "550")
    [(mail_id, *_)] = mails()
    assert send_transactional(mail_id) == MailOutcome.SKIPPED
    assert outbox_messages(isolated_settings) == []


def test_an_email_that_waited_a_day_is_dropped(redis_url: str, isolated_settings: Path):
    subscriber = make_subscriber()
    assert queue_mail("confirm", subscriber.id)
    [(mail_id, *_)] = mails()
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        assert send_transactional(mail_id) == MailOutcome.FAILED
    assert outbox_messages(isolated_settings) == []


@pytest.mark.integration
def test_a_worker_on_the_transactional_queue_sends_what_a_page_queued(
    pg_url: str, redis_url: str, start_worker: Any, isolated_settings: Path
):
    start_worker(queues="transactional", concurrency=1)
    subscriber = make_subscriber()
    assert queue_mail("welcome", subscriber.id)
    deadline = time.monotonic() + 60
    while not outbox_messages(isolated_settings) and time.monotonic() < deadline:
        time.sleep(0.2)
    [message] = outbox_messages(isolated_settings)
    assert message["Subject"] == "Welcome to your trending-papers digest"
    assert [state for _, _, state, _ in mails()] == [MailState.SENT]


def test_an_email_whose_task_was_lost_is_queued_again_and_still_sent_once(
    redis_url: str, isolated_settings: Path
):
    from newsletter.subscriptions.mail_sweep import sweep
    from workers.tasks import requeue_mail

    subscriber = make_subscriber()
    assert queue_mail("welcome", subscriber.id)
    [(mail_id, *_)] = mails()
    broker = redis.Redis.from_url(redis_url)
    broker.delete("transactional")  # Redis restarted without persistence: the task is gone
    assert sweep() == []  # not yet: a pending row may still be on its way
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        assert requeue_mail() == 1
    assert broker.llen("transactional") == 1
    assert send_transactional(mail_id) == MailOutcome.SENT
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        assert sweep() == []
    assert len(outbox_messages(isolated_settings)) == 1


def test_an_email_claimed_by_a_worker_that_died_becomes_uncertain_and_is_not_resent(
    redis_url: str, isolated_settings: Path
):
    from sqlalchemy import update

    from newsletter.subscriptions.mail_sweep import sweep

    subscriber = make_subscriber()
    assert queue_mail("welcome", subscriber.id)
    [(mail_id, *_)] = mails()
    with session_scope() as session:  # the claim committed, then the worker was killed
        session.execute(
            update(TransactionalMail)
            .where(TransactionalMail.id == mail_id)
            .values(state=MailState.SENDING)
        )
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        assert sweep() == []
    assert mails()[0][2] == MailState.UNCERTAIN
    assert send_transactional(mail_id) == MailOutcome.NOT_CLAIMED
    assert outbox_messages(isolated_settings) == []
