"""A paper as the site shows it on a card: plain values, ready for the templates."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from newsletter.models import Paper
from newsletter.summary import shorten, tldr
from newsletter.timeutil import as_utc

MAX_AUTHORS = 3
# The thumbnail box: Hugging Face's social thumbnails are about 1.9:1.
THUMB_WIDTH, THUMB_HEIGHT = 160, 84
# Modern (2411.01234) and old-style (hep-th/9901001) arXiv identifiers.
_ARXIV_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})$")

_SPACES = re.compile(r"\s+")


def collapse(text: str | None) -> str:
    """Squash runs of whitespace (sources hard-wrap titles and abstracts) into one space."""
    return _SPACES.sub(" ", text or "").strip()


# The TL;DR is a pure function of the paper's texts, asked for the same papers by every
# page that lists them: remember the last few thousand.
cached_tldr = functools.lru_cache(maxsize=8192)(tldr)

# What a card reads; the embedding and the raw texts stay in the database.
CARD_COLUMNS = (
    Paper.id,
    Paper.arxiv_id,
    Paper.title,
    Paper.abstract,
    Paper.authors,
    Paper.categories,
    Paper.published_at,
    Paper.updated_at,
    Paper.first_seen_at,
    Paper.last_seen_at,
    Paper.abs_url,
    Paper.pdf_url,
    Paper.hf_url,
    Paper.code_url,
    Paper.project_url,
    Paper.thumbnail_url,
    Paper.upvotes,
    Paper.num_comments,
    Paper.github_stars,
    Paper.ai_summary,
)


@dataclass(frozen=True)
class Card:
    """One paper's card: title, people, the one-line summary, numbers and links."""

    arxiv_id: str
    title: str
    authors: str
    all_authors: tuple[str, ...]
    tldr: str
    abstract: str
    upvotes: int
    comments: int
    stars: int | None
    published: datetime | None
    changed: datetime
    categories: tuple[str, ...]
    thumbnail: str | None
    links: tuple[tuple[str, str], ...] = field(default=())

    @property
    def path(self) -> str:
        return f"/papers/{self.arxiv_id}"


def card_query() -> Select[Any]:
    """Select the columns a card needs (add filters and order to it)."""
    return select(*CARD_COLUMNS).where(Paper.withdrawn.is_(False))


def author_names(authors: Sequence[Any]) -> tuple[str, ...]:
    """Every author's name, cleaned (the JSON may hold junk: skip what is not a name)."""
    return tuple(
        shorten(collapse(str(a.get("name", ""))), 60)
        for a in authors
        if isinstance(a, dict) and str(a.get("name", "")).strip()
    )


def author_line(authors: Sequence[Any]) -> str:
    """The first few authors' names, then "et al." when there are more."""
    names = author_names(authors)
    if len(names) <= MAX_AUTHORS:
        return ", ".join(names)
    return ", ".join(names[:MAX_AUTHORS]) + " et al."


def _web_url(url: str | None) -> str | None:
    # Only http(s): a stored "javascript:" URL must never become a link.
    return url if url and url.startswith(("https://", "http://")) else None


def paper_links(row: Any) -> tuple[tuple[str, str], ...]:
    """The paper's own pages, in the order readers look for them."""
    is_arxiv = bool(_ARXIV_ID.match(row.arxiv_id))
    abs_url = _web_url(row.abs_url) or (
        f"https://arxiv.org/abs/{row.arxiv_id}" if is_arxiv else None
    )
    pdf_url = _web_url(row.pdf_url) or (
        f"https://arxiv.org/pdf/{row.arxiv_id}" if is_arxiv else None
    )
    links = [
        ("arXiv", abs_url),
        ("PDF", pdf_url),
        ("Hugging Face", _web_url(row.hf_url)),
        ("Code", _web_url(row.code_url)),
        ("Project page", _web_url(row.project_url)),
    ]
    return tuple((label, url) for label, url in links if url)


def card_of(row: Any) -> Card:
    """Build a card from a row of `card_query()` (or a Paper)."""
    published = as_utc(row.published_at) if row.published_at else None
    changed = max(
        as_utc(t) for t in (row.last_seen_at, row.updated_at, row.first_seen_at) if t is not None
    )
    thumbnail = row.thumbnail_url if (row.thumbnail_url or "").startswith("https://") else None
    return Card(
        arxiv_id=row.arxiv_id,
        title=collapse(row.title) or row.arxiv_id,
        authors=author_line(row.authors or []),
        all_authors=author_names(row.authors or []),
        tldr=cached_tldr(row.title, row.abstract or "", row.ai_summary),
        abstract=collapse(row.abstract),
        upvotes=int(row.upvotes or 0),
        comments=int(row.num_comments or 0),
        stars=row.github_stars,
        published=published,
        changed=changed,
        categories=tuple((row.categories or [])[:4]),
        thumbnail=thumbnail,
        links=paper_links(row),
    )


def cards_by_id(session: Session, arxiv_ids: Sequence[str]) -> list[Card]:
    """Cards for `arxiv_ids`, in that order (ids not stored, or withdrawn, are left out)."""
    if not arxiv_ids:
        return []
    rows = session.execute(card_query().where(Paper.arxiv_id.in_(list(arxiv_ids)))).all()
    by_id = {row.arxiv_id: card_of(row) for row in rows}
    return [by_id[i] for i in arxiv_ids if i in by_id]


def newest_change(cards: Sequence[Card]) -> datetime | None:
    """When the newest of these cards last changed (the page's Last-Modified)."""
    return max((c.changed for c in cards), default=None)
