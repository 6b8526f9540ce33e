"""Likes and hides from the preferences page: Feedback rows the ranking reads.

A person can only rate papers we actually sent them, so a crafted form cannot stuff
arbitrary ids into their profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from newsletter.models import (
    Delivery,
    DeliveryState,
    Edition,
    Feedback,
    FeedbackKind,
    Paper,
    Subscriber,
)
from newsletter.subscriptions.validation import InvalidInput

RECENT_DELIVERIES = 5

# Form action -> (kind to add or remove, add?). Liking and hiding exclude each other.
ACTIONS: dict[str, tuple[FeedbackKind, bool]] = {
    "like": (FeedbackKind.LIKED, True),
    "unlike": (FeedbackKind.LIKED, False),
    "hide": (FeedbackKind.HIDDEN, True),
    "unhide": (FeedbackKind.HIDDEN, False),
}


@dataclass(frozen=True)
class ReceivedPaper:
    arxiv_id: str
    title: str
    url: str
    edition_key: str
    sent_at: datetime | None
    liked: bool
    hidden: bool


def recent_papers(
    session: Session, subscriber: Subscriber, deliveries: int = RECENT_DELIVERIES
) -> list[ReceivedPaper]:
    """List the papers of the subscriber's last few digests, newest first, with their ratings."""
    rows = session.execute(
        select(Delivery.papers, Delivery.sent_at, Edition.key)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.state == DeliveryState.SENT)
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(deliveries)
    ).all()
    picks: list[tuple[str, str, datetime | None]] = []
    seen: set[str] = set()
    for papers, sent_at, key in rows:
        for pick in papers or []:
            arxiv_id = str(pick.get("arxiv_id", ""))
            if arxiv_id and arxiv_id not in seen:
                seen.add(arxiv_id)
                picks.append((arxiv_id, key, sent_at))
    if not picks:
        return []
    by_id = {p.arxiv_id: p for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(seen)))}
    ratings = _ratings(session, subscriber.id, seen)
    out = []
    for arxiv_id, key, sent_at in picks:
        paper = by_id.get(arxiv_id)
        out.append(
            ReceivedPaper(
                arxiv_id=arxiv_id,
                title=paper.title if paper else arxiv_id,
                url=(paper.abs_url if paper else None) or f"https://arxiv.org/abs/{arxiv_id}",
                edition_key=key,
                sent_at=sent_at,
                liked=FeedbackKind.LIKED in ratings.get(arxiv_id, set()),
                hidden=FeedbackKind.HIDDEN in ratings.get(arxiv_id, set()),
            )
        )
    return out


def _ratings(session: Session, subscriber_id: int, ids: set[str]) -> dict[str, set[str]]:
    ratings: dict[str, set[str]] = {}
    for arxiv_id, kind in session.execute(
        select(Feedback.arxiv_id, Feedback.kind).where(
            Feedback.subscriber_id == subscriber_id,
            Feedback.arxiv_id.in_(ids),
            Feedback.kind.in_([FeedbackKind.LIKED, FeedbackKind.HIDDEN]),
        )
    ):
        ratings.setdefault(arxiv_id, set()).add(kind)
    return ratings


def was_sent(session: Session, subscriber_id: int, arxiv_id: str) -> bool:
    for (papers,) in session.execute(
        select(Delivery.papers).where(
            Delivery.subscriber_id == subscriber_id, Delivery.state == DeliveryState.SENT
        )
    ):
        if any(str(p.get("arxiv_id")) == arxiv_id for p in papers or []):
            return True
    return False


def rate_paper(session: Session, subscriber: Subscriber, arxiv_id: str, action: str) -> None:
    """Apply a like/unlike/hide/unhide to a paper the subscriber received (idempotent)."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    if not was_sent(session, subscriber.id, arxiv_id):
        raise InvalidInput("You can only rate papers from your own digests.")
    kind, add = ACTIONS[action]
    opposite = FeedbackKind.HIDDEN if kind == FeedbackKind.LIKED else FeedbackKind.LIKED
    remove = [kind] if not add else [opposite]
    session.execute(
        delete(Feedback).where(
            Feedback.subscriber_id == subscriber.id,
            Feedback.arxiv_id == arxiv_id,
            Feedback.kind.in_(remove),
        )
    )
    if add:
        exists = session.scalar(
            select(Feedback.id).where(
                Feedback.subscriber_id == subscriber.id,
                Feedback.arxiv_id == arxiv_id,
                Feedback.kind == kind,
            )
        )
        if exists is None:
            session.add(Feedback(subscriber_id=subscriber.id, arxiv_id=arxiv_id, kind=kind))
    session.flush()
