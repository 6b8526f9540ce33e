"""Sign SNS messages the way Amazon does, with a test key and self-signed certificate.

Real SNS payloads are shaped like these (Message is a JSON *string*); the verifier under
test gets a certificate fetcher that serves our test certificate for the one SNS URL,
so the strict https://sns.<region>.amazonaws.com check stays in force.
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from newsletter.subscriptions.sns import SnsVerifier, string_to_sign
from newsletter.timeutil import utcnow

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
SUBSCRIBE_URL = (
    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    + TOPIC
    + "&Token=abc"
)


@functools.cache
def key_and_cert(name: str = "sns.amazonaws.com") -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def sns_timestamp(at: datetime | None = None) -> str:
    """Format a time as SNS does (`2026-11-26T07:00:00.000Z`); now by default."""
    at = at or utcnow()
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def sign(fields: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
    """Add Signature (per SignatureVersion, default 2) over SNS's canonical string."""
    key = key or key_and_cert()[0]
    fields = {"SignatureVersion": "2", "SigningCertURL": CERT_URL, **fields}
    algorithm = hashes.SHA1() if fields["SignatureVersion"] == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(fields), padding.PKCS1v15(), algorithm)
    return {**fields, "Signature": base64.b64encode(signature).decode()}


def notification(
    ses_event: dict[str, Any] | str,
    *,
    message_id: str | None = None,
    topic: str = TOPIC,
    subject: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": ses_event if isinstance(ses_event, str) else json.dumps(ses_event),
        "Timestamp": sns_timestamp(),
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        **overrides,
    }
    if subject is not None:
        fields["Subject"] = subject
    return sign(fields)


def subscription_confirmation(subscribe_url: str = SUBSCRIBE_URL) -> dict[str, Any]:
    return sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": "abc",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic. To confirm, visit SubscribeURL.",
            "SubscribeURL": subscribe_url,
            "Timestamp": sns_timestamp(),
        }
    )


class FakeAws:
    """Serves the test certificate at CERT_URL and records SubscribeURL visits."""

    def __init__(self) -> None:
        self.certificate_fetches: list[str] = []
        self.confirmations: list[str] = []

    def fetch_certificate(self, url: str) -> bytes:
        self.certificate_fetches.append(url)
        if url != CERT_URL:
            raise OSError(f"no certificate at {url}")
        return key_and_cert()[1]

    def confirm(self, url: str) -> bytes:
        self.confirmations.append(url)
        return b"<ConfirmSubscriptionResponse/>"

    def verifier(
        self, topics: tuple[str, ...] = (TOPIC,), *, allow_signature_v1: bool = False
    ) -> SnsVerifier:
        return SnsVerifier(
            topics,
            fetch_certificate=self.fetch_certificate,
            confirm_subscription=self.confirm,
            allow_signature_v1=allow_signature_v1,
        )


def bounce(
    recipients: list[str],
    *,
    bounce_type: str = "Permanent",
    message_id: str = "ses-message-1",
    shape: str = "notificationType",
) -> dict[str, Any]:
    return {
        shape: "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
                for r in recipients
            ],
            "timestamp": "2026-11-26T07:00:01.000Z",
            "feedbackId": "feedback-1",
        },
        "mail": {
            "timestamp": "2026-11-26T07:00:00.000Z",
            "source": "digest@papers.example.com",
            "messageId": message_id,
            "destination": recipients,
        },
    }


def complaint(
    recipients: list[str], *, message_id: str = "ses-message-1", shape: str = "notificationType"
) -> dict[str, Any]:
    return {
        shape: "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "timestamp": "2026-11-26T08:00:00.000Z",
            "feedbackId": "feedback-2",
            "complaintFeedbackType": "abuse",
        },
        "mail": {"messageId": message_id, "destination": recipients},
    }


def delivery(
    recipients: list[str], *, message_id: str = "ses-message-1", shape: str = "notificationType"
) -> dict[str, Any]:
    return {
        shape: "Delivery",
        "delivery": {
            "timestamp": "2026-11-26T07:00:02.000Z",
            "processingTimeMillis": 900,
            "recipients": recipients,
            "smtpResponse": "250 2.0.0 OK",
        },
        "mail": {"messageId": message_id, "destination": recipients},
    }
