"""An edition's progress for operators (counts by state, ETA) and retrying its failures.

Retrying reopens rows with `delivery.state.reopen` and hands them to the chain with
`chain.requeue`, exactly what `newsletter deliveries retry` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.chain import requeue
from newsletter.db import session_scope
from newsletter.delivery import state
from newsletter.models import Delivery, DeliveryState, Edition
from newsletter.timeutil import as_utc

# The rate an ETA assumes: this edition's sends over the last few minutes.
RATE_WINDOW = timedelta(minutes=10)
RECENT = timedelta(hours=36)
RETRYABLE = (DeliveryState.FAILED, DeliveryState.UNCERTAIN)


@dataclass(frozen=True)
class EditionProgress:
    id: int
    key: str
    opened_at: datetime
    states: dict[str, int]
    sent_recently: int  # sent within RATE_WINDOW
    now: datetime

    def count(self, *names: str) -> int:
        return sum(self.states.get(name, 0) for name in names)

    @property
    def sent(self) -> int:
        return self.count(DeliveryState.SENT)

    @property
    def pending(self) -> int:
        """Not finished yet: waiting for its turn, or being sent right now."""
        return self.count(DeliveryState.PENDING, DeliveryState.SENDING)

    @property
    def failed(self) -> int:
        return self.count(DeliveryState.FAILED)

    @property
    def uncertain(self) -> int:
        return self.count(DeliveryState.UNCERTAIN)

    @property
    def suppressed(self) -> int:
        return self.count(DeliveryState.SUPPRESSED, DeliveryState.SKIPPED)

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def done_share(self) -> float:
        return 1.0 if not self.total else (self.total - self.pending) / self.total

    @property
    def rate_per_minute(self) -> float:
        return self.sent_recently / (RATE_WINDOW.total_seconds() / 60)

    @property
    def eta(self) -> datetime | None:
        """When the pending rows are done at the current rate; None when nothing moves."""
        if not self.pending or not self.sent_recently:
            return None
        return self.now + timedelta(minutes=self.pending / self.rate_per_minute)


def progress(session: Session, now: datetime) -> list[EditionProgress]:
    """Progress of the editions opened in the last 36 hours (else the latest one)."""
    editions = (
        session.execute(
            select(Edition.id, Edition.key, Edition.opened_at)
            .where(Edition.opened_at >= now - RECENT)
            .order_by(Edition.opened_at.desc())
        ).all()
        or session.execute(
            select(Edition.id, Edition.key, Edition.opened_at)
            .order_by(Edition.opened_at.desc())
            .limit(1)
        ).all()
    )
    if not editions:
        return []
    ids = [e.id for e in editions]
    states: dict[int, dict[str, int]] = {i: {} for i in ids}
    for edition_id, name, n in session.execute(
        select(Delivery.edition_id, Delivery.state, func.count())
        .where(Delivery.edition_id.in_(ids))
        .group_by(Delivery.edition_id, Delivery.state)
    ):
        states[edition_id][str(name)] = int(n)
    recent = dict(
        session.execute(
            select(Delivery.edition_id, func.count())
            .where(
                Delivery.edition_id.in_(ids),
                Delivery.state == DeliveryState.SENT,
                Delivery.sent_at >= now - RATE_WINDOW,
            )
            .group_by(Delivery.edition_id)
        ).all()
    )
    return [
        EditionProgress(
            id=e.id,
            key=e.key,
            opened_at=as_utc(e.opened_at),
            states=states[e.id],
            sent_recently=int(recent.get(e.id, 0)),
            now=now,
        )
        for e in editions
    ]


class UnknownEdition(LookupError):
    """No edition has this id."""


def retry(edition_id: int, which: DeliveryState) -> tuple[int, str]:
    """Reopen the edition's failed or uncertain rows and send them again.

    Return (rows reopened, what the chain said). Uncertain rows may have reached the
    reader already: the caller must have warned the operator that some may get two.
    """
    if which not in RETRYABLE:
        raise ValueError(f"only failed or uncertain deliveries can be retried, not {which}")
    with session_scope() as session:
        if session.get(Edition, edition_id) is None:
            raise UnknownEdition(f"there is no edition {edition_id}")
        ids = state.reopen(session, which, edition_id)
    return len(ids), (requeue(ids) if ids else "nothing to send")
