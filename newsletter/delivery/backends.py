"""Pick the sender backend named by NEWSLETTER_MAIL_BACKEND."""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.delivery.base import Sender
from newsletter.delivery.console import ConsoleSender
from newsletter.delivery.file import FileSender
from newsletter.delivery.ses import SesSender
from newsletter.delivery.smtp import SmtpSender


def make_sender(settings: Settings) -> Sender:
    if settings.mail_backend == "file":
        return FileSender(settings.outbox)
    if settings.mail_backend == "console":
        return ConsoleSender()
    if settings.mail_backend == "smtp":
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.sender_address,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    return SesSender(
        region=settings.aws_region,
        sender=settings.mail_from,
        endpoint_url=settings.ses_endpoint_url,
        configuration_set=settings.ses_configuration_set,
    )
