"""SNS verification: only genuine messages from our topic are believed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from newsletter.subscriptions.sns import (
    CertificateUnavailable,
    SnsMessageError,
    SnsVerificationError,
    SnsVerifier,
    is_sns_url,
    parse_message,
    string_to_sign,
)
from newsletter.timeutil import utcnow
from tests.subscriptions.sns_helpers import (
    CERT_URL,
    TOPIC,
    FakeAws,
    bounce,
    key_and_cert,
    notification,
    sign,
    sns_timestamp,
    subscription_confirmation,
)


def parsed(fields: dict) -> object:
    return parse_message(json.dumps(fields))


def test_a_signed_notification_verifies_with_both_signature_versions_when_v1_is_allowed():
    aws = FakeAws()
    verifier = aws.verifier(allow_signature_v1=True)
    for version in ("1", "2"):
        message = notification(bounce(["a@example.org"]), SignatureVersion=version)
        verifier.verify(parse_message(json.dumps(message)))
    # The certificate is fetched once and cached.
    assert aws.certificate_fetches == [CERT_URL]


def test_signature_version_1_is_refused_unless_a_setting_allows_it():
    message = parsed(notification(bounce(["a@example.org"]), SignatureVersion="1"))
    with pytest.raises(SnsVerificationError, match="SignatureVersion 1"):
        FakeAws().verifier().verify(message)


@pytest.mark.parametrize("offset", [timedelta(hours=-1, minutes=-1), timedelta(hours=2)])
def test_a_genuine_message_more_than_an_hour_old_or_ahead_is_refused(offset: timedelta):
    stamp = sns_timestamp(utcnow() + offset)
    message = parsed(notification(bounce(["a@example.org"]), Timestamp=stamp))
    with pytest.raises(SnsVerificationError, match="replay"):
        FakeAws().verifier().verify(message)
    fresh = parsed(notification(bounce(["a@example.org"]), Timestamp=sns_timestamp()))
    FakeAws().verifier().verify(fresh)


def test_a_timestamp_that_is_not_a_time_is_refused():
    message = parsed(notification(bounce(["a@example.org"]), Timestamp="yesterday"))
    with pytest.raises(SnsVerificationError, match="not an ISO time"):
        FakeAws().verifier().verify(message)


def test_the_subject_is_signed_when_present():
    message = notification(bounce(["a@example.org"]), subject="Amazon SES Email Event")
    assert b"Subject\nAmazon SES Email Event\n" in string_to_sign(message)
    FakeAws().verifier().verify(parse_message(json.dumps(message)))
    message["Subject"] = "changed"
    with pytest.raises(SnsVerificationError, match="signature does not match"):
        FakeAws().verifier().verify(parse_message(json.dumps(message)))


def test_any_change_to_a_signed_field_breaks_the_signature():
    message = notification(bounce(["a@example.org"]))
    for field, value in (
        ("Message", json.dumps(bounce(["victim@example.org"]))),
        ("MessageId", "other"),
        ("Timestamp", "2030-01-01T00:00:00.000Z"),
    ):
        forged = {**message, field: value}
        with pytest.raises(SnsVerificationError, match="signature does not match"):
            FakeAws().verifier().verify(parse_message(json.dumps(forged)))


def test_a_message_signed_with_another_key_is_refused():
    other_key = key_and_cert("attacker")[0]
    fields = notification(bounce(["a@example.org"]))
    forged = sign({k: v for k, v in fields.items() if k != "Signature"}, key=other_key)
    with pytest.raises(SnsVerificationError, match="signature does not match"):
        FakeAws().verifier().verify(parse_message(json.dumps(forged)))


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/cert.pem",
        "https://sns.amazonaws.com/cert.pem",
        "not a url",
    ],
)
def test_certificates_from_anywhere_but_sns_over_https_are_never_fetched(url: str):
    aws = FakeAws()
    message = notification(bounce(["a@example.org"]), SigningCertURL=url)
    with pytest.raises(SnsVerificationError, match="SigningCertURL"):
        aws.verifier().verify(parse_message(json.dumps(message)))
    assert aws.certificate_fetches == []


def test_the_sns_host_check_accepts_every_region_form():
    assert is_sns_url("https://sns.us-east-1.amazonaws.com/x.pem")
    assert is_sns_url("https://sns.ap-southeast-2.amazonaws.com/x.pem")
    assert is_sns_url("https://sns.us-gov-west-1.amazonaws.com/x.pem")


def test_messages_for_another_topic_are_refused_before_any_fetch():
    aws = FakeAws()
    message = notification(bounce(["a@example.org"]), topic=TOPIC.replace("ses-events", "other"))
    with pytest.raises(SnsVerificationError, match="unexpected topic"):
        aws.verifier().verify(parse_message(json.dumps(message)))
    assert aws.certificate_fetches == []


def test_unknown_signature_versions_and_bad_base64_are_refused():
    message = notification(bounce(["a@example.org"]))
    with pytest.raises(SnsVerificationError, match="SignatureVersion"):
        FakeAws().verifier().verify(parsed({**message, "SignatureVersion": "3"}))
    with pytest.raises(SnsVerificationError, match="base64"):
        FakeAws().verifier().verify(parsed({**message, "Signature": "***"}))


def test_an_expired_certificate_is_refused():
    message = parse_message(json.dumps(notification(bounce(["a@example.org"]))))
    with pytest.raises(SnsVerificationError, match="not valid now"):
        FakeAws().verifier().verify(message, now=datetime(2100, 1, 1, tzinfo=UTC))


def test_a_certificate_that_cannot_be_parsed_is_a_verification_failure():
    message = parse_message(json.dumps(notification(bounce(["a@example.org"]))))
    verifier = SnsVerifier([TOPIC], fetch_certificate=lambda url: b"not a certificate")
    with pytest.raises(SnsVerificationError, match="cannot load signing certificate"):
        verifier.verify(message)


def test_a_certificate_that_cannot_be_fetched_now_is_not_called_forged():
    message = parse_message(json.dumps(notification(bounce(["a@example.org"]))))

    def unreachable(url: str) -> bytes:
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(CertificateUnavailable):
        SnsVerifier([TOPIC], fetch_certificate=unreachable).verify(message)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"Type": "Party"}', b'{"Type": "Notification"}'],
)
def test_bodies_that_are_not_sns_messages_are_rejected_clearly(body: bytes):
    with pytest.raises(SnsMessageError):
        parse_message(body)


def test_subscription_confirmation_visits_only_sns_urls():
    aws = FakeAws()
    verifier = aws.verifier()
    good = parse_message(json.dumps(subscription_confirmation()))
    verifier.verify(good)
    verifier.confirm_subscription(good)
    assert aws.confirmations == [good.subscribe_url]
    evil = parse_message(
        json.dumps(subscription_confirmation("https://evil.example/?Action=ConfirmSubscription"))
    )
    verifier.verify(evil)  # correctly signed, yet the URL is not SNS's
    with pytest.raises(SnsVerificationError, match="SubscribeURL"):
        verifier.confirm_subscription(evil)
    assert len(aws.confirmations) == 1
