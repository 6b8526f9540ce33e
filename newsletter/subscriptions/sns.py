"""Verify Amazon SNS messages before believing them: topic, certificate host, signature.

Anyone can POST to /webhooks/ses; a forged "complaint" would unsubscribe people for
good. So: the topic must be ours, the signing certificate must come over https from
sns.<region>.amazonaws.com, and the signature (SignatureVersion 2 = SHA256withRSA; 1 =
SHA1withRSA only when allowed) must verify over the canonical string SNS documents.
A genuine message older than MAX_MESSAGE_AGE is refused too: it is a replay (SNS gives
up retrying well within that), e.g. of an old bounce to suppress someone again.

The certificate fetcher is a parameter so tests can serve their own certificate without
network; the URL check runs before any fetch and is the same in tests and production.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from newsletter.timeutil import utcnow

# The fields SNS signs, in order, per message type; Subject only when present.
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_SNS_HOST = re.compile(r"^sns\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com$")
FETCH_TIMEOUT = 10.0
CERT_CACHE_SIZE = 32
MAX_MESSAGE_AGE = timedelta(hours=1)


class SnsMessageError(ValueError):
    """The body is not an SNS message at all (bad JSON, unknown type, missing fields)."""


class SnsVerificationError(ValueError):
    """The message claims to be from SNS but fails a check: treat it as forged."""


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched right now: ask SNS to retry."""


@dataclass(frozen=True)
class SnsMessage:
    type: str
    message_id: str
    topic_arn: str
    message: str
    fields: Mapping[str, Any]

    @property
    def subscribe_url(self) -> str:
        return str(self.fields.get("SubscribeURL", ""))


def parse_message(body: bytes | str) -> SnsMessage:
    """Parse the JSON body SNS posts (its Content-Type says text/plain)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SnsMessageError("body is not JSON") from None
    if not isinstance(data, dict):
        raise SnsMessageError("body is not a JSON object")
    kind = data.get("Type")
    if kind not in SIGNED_FIELDS:
        raise SnsMessageError(f"unknown SNS message type {kind!r}")
    required = [f for f in SIGNED_FIELDS[kind] if f != "Subject"]
    required += ["Signature", "SignatureVersion", "SigningCertURL"]
    missing = [f for f in required if not isinstance(data.get(f), str)]
    if missing:
        raise SnsMessageError(f"missing or non-string field(s): {', '.join(missing)}")
    return SnsMessage(kind, data["MessageId"], data["TopicArn"], data["Message"], data)


def string_to_sign(fields: Mapping[str, Any]) -> bytes:
    """Build the canonical `key\\nvalue\\n` string SNS signs for this message type."""
    parts = []
    for name in SIGNED_FIELDS[str(fields["Type"])]:
        if name in fields and fields[name] is not None:
            parts.append(f"{name}\n{fields[name]}\n")
    return "".join(parts).encode("utf-8")


def is_sns_url(url: str) -> bool:
    """Tell whether `url` is https on sns.<region>.amazonaws.com (no port, no userinfo)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and parts.username is None
        and parts.password is None
        and parts.hostname is not None
        and bool(_SNS_HOST.match(parts.hostname))
    )


def fetch_url(url: str) -> bytes:
    """GET `url` (already checked to be on SNS) and return its body."""
    response = requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False)
    response.raise_for_status()
    return response.content


class SnsVerifier:
    """Checks SNS messages; caches signing certificates by URL (SNS rotates them rarely)."""

    def __init__(
        self,
        topics: Iterable[str],
        fetch_certificate: Callable[[str], bytes] = fetch_url,
        confirm_subscription: Callable[[str], bytes] = fetch_url,
        *,
        allow_signature_v1: bool = False,
        max_age: timedelta = MAX_MESSAGE_AGE,
    ) -> None:
        self.topics = frozenset(t.strip() for t in topics if t.strip())
        self.allow_signature_v1 = allow_signature_v1
        self.max_age = max_age
        self._fetch_certificate = fetch_certificate
        self._confirm_subscription = confirm_subscription
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, message: SnsMessage, now: datetime | None = None) -> None:
        """Raise SnsVerificationError unless `message` is genuinely from our SNS topic."""
        if message.topic_arn not in self.topics:
            raise SnsVerificationError(f"unexpected topic {message.topic_arn!r}")
        version = str(message.fields["SignatureVersion"])
        if version not in _HASHES:
            raise SnsVerificationError(f"unsupported SignatureVersion {version!r}")
        if version == "1" and not self.allow_signature_v1:
            raise SnsVerificationError(
                "SignatureVersion 1 (SHA1) is not accepted: set the topic's SignatureVersion "
                "to 2, or NEWSLETTER_SNS_ALLOW_SIGNATURE_V1=true"
            )
        cert_url = str(message.fields["SigningCertURL"])
        if not is_sns_url(cert_url):
            raise SnsVerificationError("SigningCertURL is not https on sns.<region>.amazonaws.com")
        now = now or utcnow()
        certificate = self._certificate(cert_url, now)
        try:
            signature = base64.b64decode(str(message.fields["Signature"]), validate=True)
        except (binascii.Error, ValueError):
            raise SnsVerificationError("signature is not base64") from None
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SnsVerificationError("signing certificate does not hold an RSA key")
        try:
            public_key.verify(
                signature,
                string_to_sign(message.fields),
                padding.PKCS1v15(),
                _HASHES[version](),
            )
        except InvalidSignature:
            raise SnsVerificationError("signature does not match") from None
        self._check_age(message, now)

    def _check_age(self, message: SnsMessage, now: datetime) -> None:
        """Refuse a (signed, so genuine) message sent more than max_age ago or ahead."""
        raw = str(message.fields.get("Timestamp", ""))
        try:
            sent = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise SnsVerificationError(f"Timestamp {raw[:40]!r} is not an ISO time") from None
        if sent.tzinfo is None:
            raise SnsVerificationError("Timestamp has no timezone")
        if abs(now - sent) > self.max_age:
            raise SnsVerificationError(
                f"Timestamp {raw[:40]} is more than {self.max_age} from now: a replay?"
            )

    def _certificate(self, url: str, now: datetime) -> x509.Certificate:
        with self._lock:
            cached = self._certificates.get(url)
            if cached is not None:
                self._certificates.move_to_end(url)
        if cached is None:
            try:
                pem = self._fetch_certificate(url)
            except (requests.RequestException, OSError) as exc:
                # A network problem says nothing about the message: answer so that SNS
                # retries (a 4xx would make it drop a real bounce for good).
                raise CertificateUnavailable(f"cannot fetch signing certificate: {exc}") from None
            try:
                cached = x509.load_pem_x509_certificate(pem)
            except ValueError as exc:
                raise SnsVerificationError(f"cannot load signing certificate: {exc}") from None
            with self._lock:
                self._certificates[url] = cached
                while len(self._certificates) > CERT_CACHE_SIZE:
                    self._certificates.popitem(last=False)
        if not cached.not_valid_before_utc <= now <= cached.not_valid_after_utc:
            raise SnsVerificationError("signing certificate is not valid now")
        return cached

    def confirm_subscription(self, message: SnsMessage) -> None:
        """Visit the SubscribeURL of a verified SubscriptionConfirmation (only on SNS)."""
        if not is_sns_url(message.subscribe_url):
            raise SnsVerificationError("SubscribeURL is not https on sns.<region>.amazonaws.com")
        try:
            self._confirm_subscription(message.subscribe_url)
        except requests.RequestException as exc:
            raise SnsMessageError(f"could not confirm the subscription: {exc}") from None
