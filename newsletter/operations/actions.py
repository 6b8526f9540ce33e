"""The log of operator actions: who did what, to what, and when (table admin_actions)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.models import AdminAction
from newsletter.timeutil import as_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedAction:
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: str | None


def record(
    session: Session, actor: str, action: str, target: str | None = None, detail: str = ""
) -> int:
    """Store one action (in the caller's transaction, so it commits with the change).

    Return its id: the page the operator lands on next shows that row as the outcome.
    """
    row = AdminAction(actor=actor[:200], action=action[:40], target=target, detail=detail or None)
    session.add(row)
    session.flush()
    # Also a log line, for whoever reads the logs rather than the page.
    log.warning("admin action %s on %s by %s: %s", action, target or "-", actor, detail or "-")
    return row.id


def _logged(row: AdminAction) -> LoggedAction:
    return LoggedAction(as_utc(row.created_at), row.actor, row.action, row.target, row.detail)


def one(session: Session, action_id: int | None) -> LoggedAction | None:
    row = session.get(AdminAction, action_id) if action_id else None
    return _logged(row) if row else None


def recent(session: Session, limit: int = 20) -> list[LoggedAction]:
    rows = session.scalars(
        select(AdminAction)
        .order_by(AdminAction.created_at.desc(), AdminAction.id.desc())
        .limit(limit)
    )
    return [_logged(r) for r in rows]
