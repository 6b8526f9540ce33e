"""Send through an SMTP relay (STARTTLS and login when configured)."""

from __future__ import annotations

import smtplib
from email.utils import make_msgid

from newsletter.delivery.base import (
    OutgoingEmail,
    PermanentSendError,
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
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def send(self, email: OutgoingEmail) -> SendResult:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                if self.starttls:
                    client.starttls()
                if self.user:
                    client.login(self.user, self.password or "")
                client.sendmail(self.sender, [email.recipient], email.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TransientSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            raise TransientSendError(f"SMTP connection failed: {exc}") from exc
        return SendResult(message_id=_message_id(email.raw))


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", errors="replace")
    return make_msgid()
