"""The SMTP backend against a real local SMTP server (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import datetime as dt
import email
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from newsletter.delivery.base import (
    AccountSendError,
    OutgoingEmail,
    PermanentSendError,
    TransientSendError,
)
from newsletter.delivery.smtp import SmtpSender
from tests.faults.harness import free_port

RAW = (
    b"From: Trending Papers <digest@papers.example.com>\r\n"
    b"To: reader@example.org\r\n"
    b"Subject: Your digest\r\n"
    b"Message-ID: <abc123@papers.example.com>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"\r\n"
    b"Hello\r\n"
)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.reject_with: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, _: Any):
        if self.reject_with:
            return self.reject_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Inbox, int, ssl.SSLContext]]:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="localhost",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    yield inbox, port, client_tls
    controller.stop()


def sender(port: int, tls: ssl.SSLContext, password: str = "s3cret") -> SmtpSender:
    return SmtpSender(
        "localhost",
        port,
        "digest@papers.example.com",
        user="mailer",
        password=password,
        starttls=True,
        ssl_context=tls,
        timeout=10,
    )


def outgoing() -> OutgoingEmail:
    return OutgoingEmail(delivery_id=1, recipient="reader@example.org", raw=RAW)


def test_smtp_sends_over_starttls_with_login_and_keeps_our_headers(smtp_server):
    inbox, port, tls = smtp_server
    result = sender(port, tls).send(outgoing())
    assert result.message_id == "<abc123@papers.example.com>"
    [(mail_from, rcpt, content)] = inbox.messages
    assert mail_from == "digest@papers.example.com" and rcpt == ["reader@example.org"]
    message = email.message_from_bytes(content)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_refused_login_is_an_account_error_that_pauses_sending(smtp_server):
    _, port, tls = smtp_server
    with pytest.raises(AccountSendError, match="login refused"):
        sender(port, tls, password="wrong").send(outgoing())


def test_a_5xx_recipient_fails_for_good_and_a_4xx_is_retried(smtp_server):
    inbox, port, tls = smtp_server
    inbox.reject_with = "550 5.1.1 No such user"
    with pytest.raises(PermanentSendError):
        sender(port, tls).send(outgoing())
    inbox.reject_with = "451 4.3.0 Try again later"
    with pytest.raises(TransientSendError):
        sender(port, tls).send(outgoing())
    assert inbox.messages == []


def test_an_unreachable_relay_is_transient():
    with pytest.raises(TransientSendError):
        SmtpSender("127.0.0.1", free_port(), "digest@papers.example.com", timeout=2).send(
            outgoing()
        )


def test_ses_smtp_daily_quota_answer_pauses_instead_of_retrying(smtp_server):
    from newsletter.delivery.base import QuotaSendError

    inbox, port, tls = smtp_server
    inbox.reject_with = "454 Throttling failure: Daily message quota exceeded"
    with pytest.raises(QuotaSendError):
        sender(port, tls).send(outgoing())


@pytest.mark.parametrize("relay_supports_it", [True, False])
def test_an_internationalised_address_goes_out_with_smtputf8_or_is_refused_for_good(
    relay_supports_it: bool,
):
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="localhost", port=port, enable_SMTPUTF8=relay_supports_it
    )
    controller.start()
    try:
        raw = RAW.replace(b"To: reader@example.org", "To: josé@exämple.org".encode())
        email_out = OutgoingEmail(delivery_id=0, recipient="josé@exämple.org", raw=raw)
        relay = SmtpSender("localhost", port, "digest@papers.example.com", timeout=10)
        if not relay_supports_it:
            with pytest.raises(PermanentSendError, match="cannot take this address"):
                relay.send(email_out)
            return
        relay.send(email_out)
    finally:
        controller.stop()
    [(_, rcpt, content)] = inbox.messages
    assert rcpt == ["josé@exämple.org"]
    assert "To: josé@exämple.org".encode() in content
