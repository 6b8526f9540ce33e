"""/webhooks/ses over HTTP: signed SNS posts are applied once, forged ones are refused."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import EmailEvent, SubscriberStatus, Suppression
from newsletter.timeutil import utcnow
from newsletter.web.app import create_app
from newsletter.web.routes.webhooks import get_sns_verifier
from tests.subscriptions.factories import make_sent_digest, make_subscriber, reload
from tests.subscriptions.sns_helpers import (
    TOPIC,
    FakeAws,
    bounce,
    complaint,
    delivery,
    key_and_cert,
    notification,
    sign,
    sns_timestamp,
    subscription_confirmation,
)


@pytest.fixture
def aws() -> FakeAws:
    return FakeAws()


@pytest.fixture
def sns_client(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARN", TOPIC)
    from newsletter.config import get_settings

    get_settings.cache_clear()
    app = create_app()
    verifier = aws.verifier()
    app.dependency_overrides[get_sns_verifier] = lambda: verifier
    with TestClient(app) as client:
        yield client


def post(client: TestClient, message: dict, *, header: str | None = None):
    return client.post(
        "/webhooks/ses",
        content=json.dumps(message).encode(),
        headers={
            "content-type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": header or message.get("Type", "Notification"),
        },
    )


def count(model: type) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("shape", ["notificationType", "eventType"])
def test_a_signed_permanent_bounce_suppresses_the_subscriber(
    sns_client: TestClient, db_url: str, shape: str
):
    subscriber = make_subscriber("reader@example.org")
    make_sent_digest(subscriber.id, [("2411.00001", "P")], message_id="ses-1")
    response = post(sns_client, notification(bounce(["reader@example.org"], shape=shape)))
    assert response.status_code == 200
    assert response.json() == {"status": "suppressed"}
    assert reload(subscriber.id).status == SubscriberStatus.BOUNCED
    assert count(Suppression) == 1


def test_a_signed_complaint_suppresses_and_a_delivery_is_only_recorded(sns_client: TestClient):
    make_subscriber("a@example.org")
    make_subscriber("b@example.org")
    assert post(sns_client, notification(delivery(["a@example.org"]))).json() == {
        "status": "recorded"
    }
    assert post(sns_client, notification(complaint(["b@example.org"]))).json() == {
        "status": "suppressed"
    }
    assert reload(1).status == SubscriberStatus.ACTIVE
    assert reload(2).status == SubscriberStatus.COMPLAINED


def test_a_redelivered_notification_is_applied_once(sns_client: TestClient):
    make_subscriber("reader@example.org")
    message = notification(bounce(["reader@example.org"]), message_id="sns-same")
    assert post(sns_client, message).json() == {"status": "suppressed"}
    assert post(sns_client, message).json() == {"status": "duplicate"}
    assert count(EmailEvent) == 1


def test_a_transient_bounce_is_recorded_without_suppressing(sns_client: TestClient):
    subscriber = make_subscriber("reader@example.org")
    response = post(
        sns_client, notification(bounce(["reader@example.org"], bounce_type="Transient"))
    )
    assert response.json() == {"status": "recorded"}
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    assert count(Suppression) == 0


def test_forged_messages_are_refused_and_change_nothing(sns_client: TestClient, aws: FakeAws):
    subscriber = make_subscriber("victim@example.org")
    good = notification(bounce(["someone@example.org"]))
    tampered = {**good, "Message": json.dumps(bounce(["victim@example.org"]))}
    other_key = key_and_cert("attacker")[0]
    resigned = sign(
        {k: v for k, v in notification(bounce(["victim@example.org"])).items() if k != "Signature"},
        key=other_key,
    )
    wrong_host = notification(
        bounce(["victim@example.org"]),
        SigningCertURL="https://evil.example/SimpleNotificationService.pem",
    )
    wrong_topic = notification(
        bounce(["victim@example.org"]), topic="arn:aws:sns:us-east-1:999999999999:theirs"
    )
    for forged, reason in (
        (tampered, "signature does not match"),
        (resigned, "signature does not match"),
        (wrong_host, "SigningCertURL"),
        (wrong_topic, "unexpected topic"),
    ):
        response = post(sns_client, forged)
        assert response.status_code == 403, forged
        assert reason in response.json()["error"]
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    assert count(Suppression) == 0
    assert count(EmailEvent) == 0
    assert "https://evil.example/SimpleNotificationService.pem" not in aws.certificate_fetches


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[1]", b'{"Type": "Notification"}', b'{"Type": "Other", "MessageId": "x"}'],
)
def test_bodies_that_are_not_sns_get_a_400(sns_client: TestClient, body: bytes):
    response = sns_client.post("/webhooks/ses", content=body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_a_type_header_that_disagrees_with_the_body_is_refused(sns_client: TestClient):
    response = post(
        sns_client, notification(delivery(["a@example.org"])), header="SubscriptionConfirmation"
    )
    assert response.status_code == 400


def test_a_subscription_confirmation_is_confirmed_by_visiting_sns(
    sns_client: TestClient, aws: FakeAws
):
    message = subscription_confirmation()
    response = post(sns_client, message)
    assert response.status_code == 200
    assert aws.confirmations == [message["SubscribeURL"]]


def test_a_confirmation_pointing_away_from_sns_is_not_visited(sns_client: TestClient, aws: FakeAws):
    message = subscription_confirmation("https://evil.example/confirm?x=1")
    response = post(sns_client, message)
    assert response.status_code == 403
    assert aws.confirmations == []


def test_without_a_configured_topic_the_webhook_refuses_everything(client: TestClient):
    make_subscriber("reader@example.org")
    response = post(client, notification(bounce(["reader@example.org"])))
    assert response.status_code == 503
    assert "NEWSLETTER_SNS_TOPIC_ARN" in response.json()["error"]
    assert reload(1).status == SubscriberStatus.ACTIVE


def test_get_on_the_webhook_is_not_allowed(sns_client: TestClient):
    assert sns_client.get("/webhooks/ses").status_code == 405


class _StubAws(http.server.BaseHTTPRequestHandler):
    """Plays sns.us-east-1.amazonaws.com over plain HTTP on 127.0.0.1."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path.endswith(".pem"):
            body, status = key_and_cert()[1], 200
        elif "Action=ConfirmSubscription" in self.path:
            body, status = b"<ConfirmSubscriptionResponse/>", 200
        else:
            body, status = b"not found", 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_aws() -> Iterator[str]:
    _StubAws.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_real_http_fetcher_loads_the_certificate_once_and_confirms_over_http(
    stub_aws: str, monkeypatch: pytest.MonkeyPatch
):
    """The production fetch code over real HTTP; only the host is redirected to the stub."""
    from newsletter.subscriptions.sns import SnsVerifier, fetch_url

    def via_stub(url: str) -> bytes:
        # The URL was already checked to be https on SNS; "resolve" it to the stub.
        return fetch_url(url.replace("https://sns.us-east-1.amazonaws.com", stub_aws))

    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARN", TOPIC)
    from newsletter.config import get_settings

    get_settings.cache_clear()
    app = create_app()
    verifier = SnsVerifier([TOPIC], fetch_certificate=via_stub, confirm_subscription=via_stub)
    app.dependency_overrides[get_sns_verifier] = lambda: verifier
    make_subscriber("reader@example.org")
    with TestClient(app) as client:
        assert post(client, subscription_confirmation()).status_code == 200
        assert post(client, notification(bounce(["reader@example.org"]))).status_code == 200
        assert post(client, notification(delivery(["x@example.org"]))).status_code == 200
    pem_fetches = [hit for hit in _StubAws.hits if hit.endswith(".pem")]
    assert pem_fetches == ["/SimpleNotificationService-test.pem"]  # cached after the first
    assert any("Action=ConfirmSubscription" in hit for hit in _StubAws.hits)
    assert reload(1).status == SubscriberStatus.BOUNCED


def test_an_unreachable_certificate_host_asks_sns_to_retry(monkeypatch: pytest.MonkeyPatch):
    from newsletter.subscriptions.sns import SnsVerifier

    def unreachable(url: str) -> bytes:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARN", TOPIC)
    from newsletter.config import get_settings

    get_settings.cache_clear()
    app = create_app()
    verifier = SnsVerifier([TOPIC], fetch_certificate=unreachable)
    app.dependency_overrides[get_sns_verifier] = lambda: verifier
    make_subscriber("reader@example.org")
    with TestClient(app) as client:
        response = post(client, notification(bounce(["reader@example.org"])))
    assert response.status_code == 503  # SNS retries 5xx; a 4xx would drop the bounce
    assert reload(1).status == SubscriberStatus.ACTIVE


def test_an_unsubscribe_confirmation_is_acknowledged_and_ignored(sns_client: TestClient):
    message = subscription_confirmation()
    message = sign(
        {
            **{k: v for k, v in message.items() if k not in ("Signature",)},
            "Type": "UnsubscribeConfirmation",
        }
    )
    response = post(sns_client, message)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}


# --- the List-Unsubscribe mailto, received by SES and published to the topic -------


def received(subject: str | None, *, raw_subject: str | None = None) -> dict:
    """An SES receiving notification of an SNS action (the shape AWS documents)."""
    mail: dict = {
        "timestamp": "2026-11-26T07:00:00.000Z",
        "source": "reader@example.org",
        "messageId": "inbound-1",
        "destination": ["digest@example.com"],
        "headersTruncated": False,
    }
    if subject is not None:
        mail["commonHeaders"] = {"from": ["reader@example.org"], "subject": subject}
    return {
        "notificationType": "Received",
        "receipt": {"action": {"type": "SNS", "topicArn": TOPIC}, "recipients": []},
        "mail": mail,
        "content": (
            "From: reader@example.org\r\nTo: digest@example.com\r\n"
            f"Subject: {raw_subject or subject or ''}\r\n\r\nplease stop\r\n"
        ),
    }


def mailto_subject(subscriber_id: int, generation: int = 0) -> str:
    """What a mail program puts in the subject from our List-Unsubscribe mailto."""
    from urllib.parse import parse_qs, urlsplit

    from newsletter.subscriptions.links import links_for

    query = urlsplit(links_for(subscriber_id, generation).unsubscribe_mailto).query
    return parse_qs(query)["subject"][0]


def test_an_email_to_the_mailto_address_unsubscribes_once(
    sns_client: TestClient, db_url: str, isolated_settings
):
    from tests.subscriptions.factories import outbox_messages

    subscriber = make_subscriber("reader@example.org")
    message = notification(received(mailto_subject(subscriber.id)))
    response = post(sns_client, message)
    assert response.json() == {"status": "unsubscribed"}
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED
    with session_scope() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["unsubscribe"]
        stored = session.scalars(select(EmailEvent)).one()
        assert stored.event_type == "received"
        assert "content" not in stored.payload  # headers kept, not the whole email
    # SNS delivers at least once: the same notification again changes nothing.
    assert post(sns_client, message).status_code == 200
    assert len(outbox_messages(isolated_settings, "reader@example.org")) == 1  # one goodbye


def test_a_reply_or_raw_subject_still_unsubscribes_and_old_tokens_work(sns_client: TestClient):
    subscriber = make_subscriber("reader@example.org")
    with session_scope() as session:
        session.get_one(type(reload(subscriber.id)), subscriber.id).token_generation = 2
    # No common headers (truncated): the raw message's Subject is read instead.
    subject = "Re: " + mailto_subject(subscriber.id, generation=0)
    response = post(sns_client, notification(received(None, raw_subject=subject)))
    assert response.json() == {"status": "unsubscribed"}
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED


@pytest.mark.parametrize(
    "subject",
    ["hello, love the digest", "unsubscribe", "unsubscribe not-a-real-token-at-all-1234567890"],
)
def test_other_emails_and_forged_tokens_are_only_recorded(sns_client: TestClient, subject: str):
    subscriber = make_subscriber("reader@example.org")
    response = post(sns_client, notification(received(subject)))
    assert response.json() == {"status": "recorded"}
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    assert count(EmailEvent) == 1


def test_a_full_stop_after_the_token_and_a_base64_raw_message_still_unsubscribe(
    sns_client: TestClient,
):
    import base64

    first = make_subscriber("one@example.org")
    second = make_subscriber("two@example.org")
    typed = notification(received(mailto_subject(first.id) + "."))
    assert post(sns_client, typed).json() == {"status": "unsubscribed"}
    event = received(None, raw_subject=mailto_subject(second.id))
    event["receipt"]["action"]["encoding"] = "BASE64"
    event["content"] = base64.b64encode(event["content"].encode()).decode()
    assert post(sns_client, notification(event)).json() == {"status": "unsubscribed"}
    assert reload(first.id).status == reload(second.id).status == SubscriberStatus.UNSUBSCRIBED


def test_the_stored_event_keeps_no_token(sns_client: TestClient):
    subscriber = make_subscriber("reader@example.org")
    subject = mailto_subject(subscriber.id)
    token = subject.split()[-1]
    event = received(subject)
    event["mail"]["headers"] = [{"name": "Subject", "value": subject}]
    post(sns_client, notification(event))
    with session_scope() as session:
        stored = json.dumps(session.scalars(select(EmailEvent)).one().payload)
    assert token not in stored and "unsubscribe [token]" in stored


def test_a_replayed_old_bounce_is_refused_and_suppresses_nobody(sns_client: TestClient):
    subscriber = make_subscriber("reader@example.org")
    two_hours_ago = sns_timestamp(utcnow() - timedelta(hours=2))
    response = post(
        sns_client, notification(bounce(["reader@example.org"]), Timestamp=two_hours_ago)
    )
    assert response.status_code == 403
    assert "replay" in response.json()["error"]
    assert count(Suppression) == 0 and count(EmailEvent) == 0
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE


def test_sha1_signatures_follow_the_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARN", TOPIC)
    get_settings.cache_clear()
    assert get_sns_verifier().allow_signature_v1 is False  # type: ignore[union-attr]
    monkeypatch.setenv("NEWSLETTER_SNS_ALLOW_SIGNATURE_V1", "true")
    get_settings.cache_clear()
    assert get_sns_verifier().allow_signature_v1 is True  # type: ignore[union-attr]
