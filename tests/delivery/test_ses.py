"""Sending through SES (moto behind our fault-injecting proxy): outcomes per error class."""

from __future__ import annotations

import email

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select

from newsletter import chain, services
from newsletter.cli import cli
from newsletter.db import session_scope
from newsletter.delivery import breaker, ratelimit
from newsletter.delivery.base import TransientSendError
from newsletter.models import Delivery, DeliveryState, Subscriber, SubscriberStatus, Suppression
from tests.delivery.helpers import ready_deliveries, recipients_of, states
from tests.sesproxy import Fault


def test_a_digest_goes_out_raw_with_our_headers_and_ses_message_id_is_kept(
    ses, sqlite_url, monkeypatch
):
    monkeypatch.setenv("NEWSLETTER_SES_CONFIGURATION_SET", "digests")
    from newsletter.config import get_settings

    get_settings.cache_clear()
    [delivery_id] = ready_deliveries(1)
    assert chain.send([delivery_id])["sent"] == 1
    request = ses.proxy.state.last_send
    assert request["ConfigurationSetName"] == "digests"
    assert {"Name": "delivery", "Value": str(delivery_id)} in request["EmailTags"]
    assert request["Destination"] == {"ToAddresses": ["reader00000@example.org"]}
    [stored] = ses.sent()
    message = email.message_from_string(stored["raw_data"])
    assert message["To"] == "reader00000@example.org"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<https://papers.test/" in message["List-Unsubscribe"]
    assert message["List-Id"]
    with session_scope() as session:
        delivery = session.get_one(Delivery, delivery_id)
        assert delivery.state == DeliveryState.SENT
        assert delivery.provider_message_id == stored["id"]
        assert delivery.attempts == 1


def test_throttling_releases_the_row_and_a_retry_sends_it_exactly_once(ses, sqlite_url):
    ids = ready_deliveries(3)
    ses.proxy.fail_next(1)  # one 429 TooManyRequestsException
    with pytest.raises(TransientSendError, match="TooManyRequests"):
        chain.send(ids)
    assert states() == {"pending": 3}
    assert chain.send(ids)["sent"] == 3
    assert chain.send(ids)["not_claimed"] == 3
    assert sorted(recipients_of(ses.sent()).values()) == [1, 1, 1]


def test_a_server_error_is_retried_but_a_rejected_message_fails_with_its_reason(ses, sqlite_url):
    ids = ready_deliveries(2)
    ses.proxy.fail_next(1, Fault(status=503, code="ServiceUnavailable", message="busy"))
    with pytest.raises(TransientSendError):
        chain.send(ids)
    ses.proxy.fail_next(
        1, Fault(status=400, code="MessageRejected", message="Email address is on a blocklist")
    )
    counts = chain.send(ids)
    assert counts["failed"] == 1 and counts["sent"] == 1
    with session_scope() as session:
        failed = session.scalars(select(Delivery).where(Delivery.state == "failed")).one()
        assert "MessageRejected" in (failed.last_error or "")
    # A failed row is final: sending the chunk again sends nothing more.
    chain.send(ids)
    assert len(ses.sent()) == 1


def test_an_account_level_error_pauses_sending_keeps_rows_pending_until_resumed(ses, sqlite_url):
    ids = ready_deliveries(4)
    ses.proxy.fail_next(
        1, Fault(status=400, code="SendingPausedException", message="Sending is paused")
    )
    counts = chain.send(ids)
    assert counts["paused"] == 4
    assert states() == {"pending": 4}
    runner = CliRunner()
    status = runner.invoke(cli, ["sending", "status"])
    assert status.exit_code == 0
    assert "PAUSED" in status.output and "SendingPausedException" in status.output
    # While paused, nothing goes out and no retry storm hits SES.
    faulted = ses.proxy.state.faulted
    assert chain.send(ids)["paused"] == 4
    assert ses.proxy.state.faulted == faulted and ses.sent() == []
    resumed = runner.invoke(cli, ["sending", "resume"])
    assert resumed.exit_code == 0, resumed.output
    assert states() == {"sent": 4}
    assert len(ses.sent()) == 4


def test_an_unverified_sender_identity_pauses_instead_of_failing_every_reader(ses, sqlite_url):
    ids = ready_deliveries(2)
    ses.proxy.fail_next(
        1,
        Fault(
            status=400,
            code="MessageRejected",
            message="Email address is not verified. The following identities failed the "
            "check in region US-EAST-1: digest@papers.example.com",
        ),
    )
    assert chain.send(ids)["paused"] == 2
    with session_scope() as session:
        assert breaker.read(session).is_open()


def test_no_answer_after_the_request_went_out_is_uncertain_and_not_resent(
    ses, sqlite_url, monkeypatch
):
    monkeypatch.setenv("NEWSLETTER_SES_TIMEOUT", "1")
    services.reset()
    ids = ready_deliveries(2)
    ses.proxy.fail_next(1, Fault(hang=2.0, forward_first=True))
    counts = chain.send(ids)
    assert counts["uncertain"] == 1 and counts["sent"] == 1
    chain.send(ids)
    assert len(ses.sent()) == 2  # moto did take the first one; we did not send it again
    assert states() == {"uncertain": 1, "sent": 1}
    result = CliRunner().invoke(cli, ["deliveries", "--state", "uncertain", "--json"])
    assert result.exit_code == 0 and '"uncertain"' in result.output


def test_an_address_suppressed_after_planning_is_not_mailed(ses, sqlite_url):
    ids = ready_deliveries(3)
    with session_scope() as session:
        session.add(Suppression(email="reader00001@example.org", reason="bounce"))
        unsubscribed = session.scalars(
            select(Subscriber).where(Subscriber.email == "reader00002@example.org")
        ).one()
        unsubscribed.status = SubscriberStatus.UNSUBSCRIBED
    counts = chain.send(ids)
    assert counts == {**counts, "sent": 1, "suppressed": 2}
    assert list(recipients_of(ses.sent())) == ["reader00000@example.org"]


def test_the_daily_quota_from_get_account_pauses_sending_until_the_window_frees(
    ses, sqlite_url, redis_url, monkeypatch
):
    monkeypatch.setenv("NEWSLETTER_QUOTA_PAUSE_SECONDS", "3600")
    ses.proxy.state.account["SendQuota"] = {
        "Max24HourSend": 50.0,
        "MaxSendRate": 100.0,
        "SentLast24Hours": 47.0,
    }
    ids = ready_deliveries(5)
    counts = chain.send(ids)
    assert counts["sent"] == 3 and counts["paused"] == 2
    assert ses.proxy.state.account_calls == 1  # cached, not asked per message
    with session_scope() as session:
        state = breaker.read(session)
        assert state.is_open() and state.until is not None
        assert "quota" in (state.reason or "")
    assert states() == {"sent": 3, "pending": 2}
    client = redis.Redis.from_url(redis_url)
    assert int(client.get(ratelimit.QUOTA_KEY) or 0) == 0


def test_a_daily_quota_error_from_ses_pauses_until_the_window_frees_without_retrying(
    ses, sqlite_url
):
    ids = ready_deliveries(3)
    ses.proxy.fail_next(
        1, Fault(status=400, code="ThrottlingException", message="Daily message quota exceeded")
    )
    assert chain.send(ids)["paused"] == 3
    assert states() == {"pending": 3}
    assert ses.proxy.state.faulted == 1  # one request, no retry storm
    with session_scope() as session:
        state = breaker.read(session)
    assert state.is_open() and state.until is not None
    assert "Daily message quota" in (state.reason or "")


def test_two_workers_handed_the_same_chunk_send_each_delivery_once(ses, pg_url):
    """A redelivered task races the original: the conditional claim lets one through."""
    import threading

    ids = ready_deliveries(40)
    results: list[dict[str, int]] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        results.append(chain.send(ids))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["sent"] for r in results) == 40
    assert sum(r["not_claimed"] for r in results) == 80
    assert sorted(set(recipients_of(ses.sent()).values())) == [1]
    assert len(ses.sent()) == 40
    with session_scope() as session:
        attempts = set(session.scalars(select(Delivery.attempts)))
    assert attempts == {1}
