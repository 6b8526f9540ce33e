"""When beat last planned: a ServiceState row the plan step stamps on every run.

The operator view compares it with the plan interval: no plan for two intervals
means beat (or the schedule queue's workers) stopped, and nobody gets a digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.models import ServiceState
from newsletter.timeutil import as_utc

KEY = "beat.last_plan"


def stamp_plan(session: Session, now: datetime) -> None:
    """Record that a plan step ran at `now` (a newer stamp never goes back in time)."""
    row = session.get(ServiceState, KEY)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ServiceState(key=KEY, value=now.isoformat(), updated_at=now))
            return
        except IntegrityError:
            row = session.get_one(ServiceState, KEY)  # another plan stamped it first
    if as_utc(datetime.fromisoformat(row.value)) < now:
        row.value = now.isoformat()
        row.updated_at = now


def last_plan(session: Session) -> datetime | None:
    row = session.get(ServiceState, KEY)
    return as_utc(datetime.fromisoformat(row.value)) if row else None
