"""Find transactional emails whose task was lost, and settle claims that never finished.

A confirmation queued while Redis restarted, or claimed by a worker that died, would
otherwise wait forever. Beat's tick runs `sweep` (task `requeue_mail`): pending rows
untouched for NEWSLETTER_REQUEUE_AFTER_SECONDS go back on the queue (the claim makes
a second send impossible), and rows stuck in `sending` past the send lease become
`uncertain`: the provider may have taken them, so they are never sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import MailState, TransactionalMail
from newsletter.timeutil import utcnow

log = logging.getLogger(__name__)


def sweep(now: datetime | None = None) -> list[int]:
    """Settle expired claims; return the ids of pending emails to queue again."""
    now = now or utcnow()
    settings = get_settings()
    lease = now - timedelta(seconds=settings.send.lease_seconds)
    lost = now - timedelta(seconds=settings.requeue_after_seconds)
    with session_scope() as session:
        expired = session.execute(
            update(TransactionalMail)
            .where(
                TransactionalMail.state == MailState.SENDING,
                TransactionalMail.updated_at < lease,
            )
            .values(
                state=MailState.UNCERTAIN,
                last_error="the worker stopped after claiming it; it may have gone out",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if expired:
            log.error("%d transactional emails became uncertain (lease expired)", expired)
        return list(
            session.scalars(
                select(TransactionalMail.id)
                .where(
                    TransactionalMail.state == MailState.PENDING,
                    TransactionalMail.updated_at < lost,
                )
                .order_by(TransactionalMail.id)
                .limit(1000)
            )
        )
