"""The digest's "Also trending" section: the day's most upvoted papers outside a reader's
interests, at most two, so a reader still hears about the paper everyone talks about.

Chosen when the email is composed, from the edition's frozen candidates: a paper the
reader was picked, hid, or that shares a category or keyword with their interests is
left out (it is not "outside" them). Readers can turn the section off in preferences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.models import Feedback, FeedbackKind, Interest, InterestKind, Paper
from newsletter.render.digest import Card, DigestPaper
from newsletter.render.papers import digest_paper

MAX_TRENDING = 2
# The edition's most upvoted candidates kept per process; readers take from these.
POOL_SIZE = 40


def trending_reason(paper: DigestPaper) -> str:
    """'Trending outside your interests: 120 upvotes, 45 comments'."""
    counts = [f"{paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}"]
    if paper.num_comments:
        counts.append(f"{paper.num_comments} comment{'s' if paper.num_comments != 1 else ''}")
    return "Trending outside your interests: " + ", ".join(counts)


def most_upvoted(papers: Iterable[DigestPaper]) -> list[DigestPaper]:
    """The candidates with upvotes, most upvoted first (ties: most commented, then id)."""
    ranked = sorted(
        (p for p in papers if p.upvotes > 0),
        key=lambda p: (-p.upvotes, -p.num_comments, p.arxiv_id),
    )
    return ranked[:POOL_SIZE]


def outside_interests(
    pool: Sequence[DigestPaper],
    interests: Iterable[Interest],
    skip: set[str],
    limit: int = MAX_TRENDING,
) -> list[Card]:
    """Take up to `limit` papers of `pool` that match none of `interests` and are not in `skip`."""
    keywords, categories = [], set()
    for interest in interests:
        if interest.kind == InterestKind.KEYWORD:
            keywords.append(interest.value.lower())
        elif interest.kind == InterestKind.CATEGORY:
            categories.add(interest.value)
    out: list[Card] = []
    for paper in pool:
        if len(out) >= limit:
            break
        if paper.arxiv_id in skip:
            continue
        archives = {c.split(".", 1)[0] for c in paper.categories}
        if categories & (set(paper.categories) | archives):
            continue
        text = f"{paper.title} {paper.abstract}".lower()
        if any(k in text for k in keywords):
            continue
        out.append(Card(paper, trending_reason(paper), trending=True))
    return out


def hidden_by(session: Session, subscriber_id: int) -> set[str]:
    """The papers a reader said "less like this" to: never shown to them as trending."""
    return set(
        session.scalars(
            select(Feedback.arxiv_id).where(
                Feedback.subscriber_id == subscriber_id, Feedback.kind == FeedbackKind.HIDDEN
            )
        )
    )


def load_pool(session: Session, candidate_ids: Sequence[str]) -> list[DigestPaper]:
    """The edition's most upvoted candidates, read once per process and edition."""
    rows = session.scalars(
        select(Paper)
        .where(Paper.arxiv_id.in_(list(candidate_ids)), Paper.upvotes > 0)
        .order_by(Paper.upvotes.desc())
        .limit(POOL_SIZE * 2)
    )
    return most_upvoted(digest_paper(row) for row in rows)
