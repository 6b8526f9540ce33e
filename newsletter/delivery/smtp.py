"""Send through an SMTP relay (STARTTLS and login when configured)."""

from __future__ import annotations

import smtplib
import ssl
from email.utils import make_msgid

from newsletter.delivery.base import (
    AccountSendError,
    OutgoingEmail,
    PermanentSendError,
    QuotaSendError,
    SendResult,
    TransientSendError,
)


class SmtpSender:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout
        # Verify the relay's certificate (system CAs) unless a context says otherwise.
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send(self, email: OutgoingEmail) -> SendResult:
        # An internationalised address travels only with SMTPUTF8 (RFC 6531).
        options = [] if email.recipient.isascii() and email.raw.isascii() else ["SMTPUTF8"]
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                if self.starttls:
                    client.starttls(context=self.ssl_context)
                if self.user:
                    client.login(self.user, self.password or "")
                client.sendmail(self.sender, [email.recipient], email.raw, mail_options=options)
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentSendError(f"the relay cannot take this address: {exc}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            if any(_is_quota(reply) for _, reply in exc.recipients.values()):
                raise QuotaSendError(f"SMTP quota reached: {exc.recipients}") from exc
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientSendError(f"recipient deferred: {exc.recipients}") from exc
            raise PermanentSendError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise AccountSendError(f"SMTP login refused: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            if _is_quota(exc.smtp_error):
                # SES's SMTP interface: "454 Throttling failure: Daily message quota
                # exceeded". Retrying now only burns requests; pause instead.
                raise QuotaSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            if 400 <= exc.smtp_code < 500:
                raise TransientSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            raise TransientSendError(f"SMTP connection failed: {exc}") from exc
        return SendResult(message_id=_message_id(email.raw))


def _is_quota(reply: bytes | str) -> bool:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return "daily message quota" in text.lower()


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", errors="replace")
    return make_msgid()
