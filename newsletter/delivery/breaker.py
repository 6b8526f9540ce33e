"""The send circuit breaker: account-level errors stop all sending until resumed.

When SES says the account cannot send (sending paused, identity not verified, account
suspended), every further message would fail the same way, so burning through the
edition marking readers `failed` is the worst answer. The breaker is a row in
ServiceState that every send checks; deliveries stay `pending`, the operator is alerted
(log at ERROR, `newsletter sending status`), and `newsletter sending resume` closes it.
A daily-quota overrun opens it with an end time instead: sending resumes by itself
when the 24-hour window has room again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter import services
from newsletter.models import ServiceState
from newsletter.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

KEY = "sending.breaker"
# Sends check the breaker at most this often per process (one small query).
CHECK_EVERY = 1.0


@dataclass(frozen=True)
class BreakerState:
    open: bool
    reason: str | None = None
    opened_at: datetime | None = None
    until: datetime | None = None  # None while open: until an operator resumes

    def is_open(self, now: datetime | None = None) -> bool:
        if not self.open:
            return False
        return self.until is None or (now or utcnow()) < self.until

    def describe(self, now: datetime | None = None) -> str:
        if not self.is_open(now):
            return "sending: running"
        since = self.opened_at.isoformat() if self.opened_at else "?"
        end = (
            f"until {self.until.isoformat()} (resumes by itself)"
            if self.until
            else "until resumed (`newsletter sending resume`)"
        )
        return f"sending: PAUSED since {since} {end}: {self.reason}"


def read(session: Session) -> BreakerState:
    row = session.get(ServiceState, KEY)
    if row is None:
        return BreakerState(open=False)
    data = json.loads(row.value)
    if not data.get("open"):
        return BreakerState(open=False)
    until = data.get("until")
    return BreakerState(
        open=True,
        reason=data.get("reason"),
        opened_at=as_utc(datetime.fromisoformat(data["opened_at"])),
        until=as_utc(datetime.fromisoformat(until)) if until else None,
    )


def _write(session: Session, value: dict[str, object]) -> None:
    text = json.dumps(value)
    row = session.get(ServiceState, KEY)
    if row is not None:
        row.value = text
        row.updated_at = utcnow()
        session.flush()
        return
    try:
        with session.begin_nested():
            session.add(ServiceState(key=KEY, value=text))
    except IntegrityError:
        # Another worker tripped it at the same moment; its row is as good as ours.
        row = session.scalars(select(ServiceState).where(ServiceState.key == KEY)).one()
        row.value = text
    session.flush()


def trip(session: Session, reason: str, pause: timedelta | None = None) -> BreakerState:
    """Open the breaker (keep an earlier, still-open reason) and alert the operator."""
    now = utcnow()
    current = read(session)
    if current.is_open(now) and current.until is None:
        return current
    until = now + pause if pause else None
    _write(
        session,
        {
            "open": True,
            "reason": reason,
            "opened_at": now.isoformat(),
            "until": until.isoformat() if until else None,
        },
    )
    services.current().cache("breaker").clear()
    log.error(
        "SENDING PAUSED: %s; deliveries stay pending. %s",
        reason,
        f"Resumes by itself at {until.isoformat()}."
        if until
        else "Fix the account, then run `newsletter sending resume`.",
    )
    return read(session)


def pause(session: Session, reason: str = "paused by an operator") -> BreakerState:
    return trip(session, reason)


def resume(session: Session) -> None:
    _write(session, {"open": False, "resumed_at": utcnow().isoformat()})
    services.current().cache("breaker").clear()
    log.warning("sending resumed")


def is_open(session: Session) -> bool:
    """Tell whether sending is paused now (cached for CHECK_EVERY seconds per process)."""
    cache = services.current().cache("breaker")
    hit: tuple[float, BreakerState] | None = cache.get(KEY)
    if hit is None or time.monotonic() - hit[0] > CHECK_EVERY:
        hit = (time.monotonic(), read(session))
        cache[KEY] = hit
    return hit[1].is_open()
