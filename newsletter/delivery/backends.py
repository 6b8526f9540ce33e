"""Pick the sender backend named by NEWSLETTER_MAIL_BACKEND, and size its rate limiter."""

from __future__ import annotations

import logging

import redis

from newsletter.config import Settings
from newsletter.delivery.base import Sender, SendError
from newsletter.delivery.console import ConsoleSender
from newsletter.delivery.file import FileSender
from newsletter.delivery.inflight import Flight
from newsletter.delivery.ratelimit import (
    LocalTokenBucket,
    NoLimit,
    RateLimiter,
    RedisTokenBucket,
    cached_account,
)
from newsletter.delivery.ses import SesSender
from newsletter.delivery.smtp import SmtpSender
from newsletter.services import current

log = logging.getLogger(__name__)

# SES's sandbox rate: the safe guess when GetAccount cannot be read.
FALLBACK_SES_RATE = 1.0


def make_sender(settings: Settings) -> Sender:
    if settings.mail_backend == "file":
        return FileSender(settings.outbox)
    if settings.mail_backend == "console":
        return ConsoleSender()
    if settings.mail_backend == "smtp":
        return SmtpSender(
            settings.smtp.host,
            settings.smtp.port,
            settings.sender_address,
            user=settings.smtp.user,
            password=settings.smtp.password,
            starttls=settings.smtp.starttls,
        )
    return SesSender(
        region=settings.ses.region,
        sender=settings.mail_from,
        endpoint_url=settings.ses.endpoint_url,
        configuration_set=settings.ses.configuration_set,
        timeout=settings.ses.timeout,
        connections=settings.send.concurrency,
    )


def make_limiter(settings: Settings, sender: Sender) -> RateLimiter:
    """Build the limiter every send goes through.

    With Redis: one bucket for the whole fleet, at NEWSLETTER_SEND_RATE or SES's
    MaxSendRate (GetAccount, cached), counting down the 24-hour quota. Without Redis
    (embedded): an in-process bucket when a rate is known, else no limit.
    """
    if settings.redis_url is None:
        rate = settings.send.rate
        if rate is None and isinstance(sender, SesSender):
            rate = _ses_rate(sender, None)
        return LocalTokenBucket(rate) if rate else NoLimit()
    if settings.send.rate is None and not isinstance(sender, SesSender):
        return NoLimit()
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
    )

    def rate_source() -> float:
        rate = _ses_rate(sender, client) if isinstance(sender, SesSender) else None
        return settings.send.rate or rate or FALLBACK_SES_RATE

    return RedisTokenBucket(client, rate_source)


def _ses_rate(sender: SesSender, client: redis.Redis | None) -> float | None:
    try:
        account = cached_account(client, sender.account) if client else sender.account()
    except SendError as exc:
        log.warning("cannot read SES GetAccount (%s); sending at %s/s", exc, FALLBACK_SES_RATE)
        return None
    rate = account.get("SendQuota", {}).get("MaxSendRate")
    return float(rate) if rate else None


def process_sender() -> Sender:
    """Return this process's sender (clients and connections are reused across tasks)."""
    return current().resource("sender", make_sender, _close_sender)


def process_limiter() -> RateLimiter:
    """Return this process's rate limiter (the bucket itself is shared through Redis)."""
    sender = process_sender()
    return current().resource("limiter", lambda settings: make_limiter(settings, sender))


def process_flight() -> Flight:
    """Return this process's sending pool: NEWSLETTER_SEND_CONCURRENCY requests in flight.

    Only a sender that says it is safe to call from several threads (`concurrent`,
    SES) gets more than one; SMTP relays, files and the console get one at a time.
    """
    sender = process_sender()
    return current().resource(
        "flight",
        lambda settings: Flight.of(
            settings.send.concurrency if getattr(sender, "concurrent", False) else 1
        ),
        Flight.close,
    )


def _close_sender(sender: Sender) -> None:
    close = getattr(sender, "close", None)
    if callable(close):
        close()
