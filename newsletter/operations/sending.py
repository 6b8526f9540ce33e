"""Pause and resume all sending (the circuit breaker), from the CLI or /admin."""

from __future__ import annotations

import redis

from newsletter.chain import requeue
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import breaker, ratelimit, state


def pause(reason: str) -> None:
    """Stop sending; deliveries and emails stay pending until `resume`."""
    with session_scope() as session:
        breaker.pause(session, reason)


def resume() -> list[str]:
    """Close the breaker and send everything still pending; say what was done, by line."""
    with session_scope() as session:
        breaker.resume(session)
    url = get_settings().redis_url
    if url:
        client = redis.Redis.from_url(url)
        try:
            # Forget the cached account and quota: the operator may have raised them.
            ratelimit.clear(client)
        finally:
            client.close()
    with session_scope() as session:
        ids = state.pending_ids(session)
    said = [f"sending resumed; {len(ids)} pending deliveries"]
    return [*said, requeue(ids)] if ids else said
