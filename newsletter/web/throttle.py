"""Caps on the forms that mail strangers: per client address, per mailbox, and in all.

Without them one client can make the service mail confirmation links to any number of
strangers (60 in 3.5 s with one CSRF token), which gets the sender's reputation burnt.
Counts are fixed windows (NEWSLETTER_SIGNUP_LIMIT_WINDOW_SECONDS) in Redis when
REDIS_URL is set, so every web process shares them, and in the database on the embedded
default. Keys hold a keyed hash, never an address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from newsletter.config import Settings, get_settings
from newsletter.db import session_scope
from newsletter.models import RateCounter
from newsletter.services import current
from newsletter.subscriptions.validation import mailbox_key
from newsletter.timeutil import utcnow
from newsletter.web.templating import notice

REDIS_PREFIX = "newsletter:caps:"


@dataclass(frozen=True)
class Refusal:
    """Which cap a request hit, and when its window ends."""

    cap: str
    retry_after: int


def client_address(request: Request, trusted_proxies: int) -> str:
    """The client's address: the peer, or the one `trusted_proxies` hops up X-Forwarded-For.

    Only proxies we run may be believed: a client can write any X-Forwarded-For it
    likes, so with no trusted proxy configured the header is ignored. IPv6 clients are
    counted per /64, the block one subscriber line usually gets.
    """
    peer = request.client.host if request.client else "unknown"
    if trusted_proxies > 0:
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= trusted_proxies:
            peer = hops[-trusted_proxies]
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def check_mail_caps(request: Request, recipient: str) -> Refusal | None:
    """Count one form that will mail `recipient`; say which cap it exceeds, if any."""
    settings = get_settings()
    caps = (
        (
            "client",
            client_address(request, settings.trusted_proxies),
            settings.signup_limits.per_client,
        ),
        ("mailbox", mailbox_key(recipient), settings.signup_limits.per_mailbox),
        ("global", "all", settings.signup_limits.overall),
    )
    window = settings.signup_limits.window_seconds
    for cap, subject, limit in caps:
        if limit <= 0:
            continue
        hits, retry_after = _hit(settings, f"{cap}:{_digest(settings, subject)}", window)
        if hits > limit:
            return Refusal(cap, retry_after)
    return None


def _digest(settings: Settings, subject: str) -> str:
    key = settings.secret_key.encode("utf-8")
    return hmac.new(key, subject.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


def _hit(settings: Settings, key: str, window: float) -> tuple[int, int]:
    """Add one hit to `key` in the current window; return (hits so far, seconds left)."""
    now = utcnow()
    number = math.floor(now.timestamp() / window)
    ends = (number + 1) * window
    retry_after = max(1, math.ceil(ends - now.timestamp()))
    windowed = f"{key}:{number}"
    if settings.redis_url:
        return _hit_redis(windowed, retry_after), retry_after
    return _hit_database(windowed, datetime.fromtimestamp(ends, now.tzinfo)), retry_after


def _redis_client(settings: Settings) -> redis.Redis:
    assert settings.redis_url is not None
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)


def _hit_redis(key: str, ttl: int) -> int:
    client = current().resource("signup-caps-redis", _redis_client, lambda c: c.close())
    pipe = client.pipeline()
    pipe.incr(REDIS_PREFIX + key)
    pipe.expire(REDIS_PREFIX + key, ttl + 1)
    hits, _ = pipe.execute()
    return int(hits)


def _hit_database(key: str, window_ends: datetime) -> int:
    with session_scope() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(RateCounter).values(key=key, hits=1, window_ends=window_ends)
        counted = statement.on_conflict_do_update(
            index_elements=["key"], set_={"hits": RateCounter.hits + 1}
        ).returning(RateCounter.hits)
        hits = int(session.execute(counted).scalar_one())
        if hits == 1:
            # A new window: forget the ended ones (a handful of rows at most).
            cutoff = utcnow() - timedelta(seconds=1)
            session.execute(delete(RateCounter).where(RateCounter.window_ends < cutoff))
        return hits


def too_many(request: Request, refusal: Refusal) -> HTMLResponse:
    """The 429 page: the same words whichever cap was hit, with the wait in Retry-After."""
    minutes = max(1, math.ceil(refusal.retry_after / 60))
    response = notice(
        request,
        "Please wait a little",
        "To protect people from email they did not ask for, we send only a few "
        "confirmation emails per hour to one address, and accept only a few signups from "
        f"one connection. Please try again in {minutes} minute{'s' if minutes > 1 else ''}.",
        429,
        link=("Go to the start page", "/"),
    )
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response
