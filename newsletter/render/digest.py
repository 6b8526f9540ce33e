"""Render one reader's digest (HTML + text) from their picks and the edition's papers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from newsletter.render.environment import email_environment
from newsletter.subscriptions.links import SubscriberLinks

MAX_AUTHORS = 4
ABSTRACT_SENTENCES = 3


@dataclass
class DigestPaper:
    """A paper as the digest shows it."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    upvotes: int = 0
    reason: str = ""
    abs_url: str | None = None
    pdf_url: str | None = None
    hf_url: str | None = None
    code_url: str | None = None
    thumbnail_url: str | None = None

    @property
    def short_authors(self) -> str:
        if len(self.authors) <= MAX_AUTHORS:
            return ", ".join(self.authors)
        return ", ".join(self.authors[: MAX_AUTHORS - 1]) + f" et al. ({len(self.authors)} authors)"

    @property
    def abstract_lead(self) -> str:
        sentences = self.abstract.split(". ")
        lead = ". ".join(sentences[:ABSTRACT_SENTENCES])
        return lead if len(sentences) <= ABSTRACT_SENTENCES else lead.rstrip(".") + ". …"


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str


def render_digest(
    *,
    email: str,
    date_label: str,
    papers: list[DigestPaper],
    links: SubscriberLinks,
    next_due: str | None = None,
) -> RenderedEmail:
    """Render the digest for one reader; all source text is autoescaped in the HTML."""
    env = email_environment()
    context: dict[str, Any] = {
        "email": email,
        "date_label": date_label,
        "papers": papers,
        "links": links,
        "next_due": next_due,
        "preheader": _preheader(papers),
    }
    subject = f"Trending papers, {date_label}"
    if papers:
        subject += f": {_shorten(papers[0].title, 70)}"
    return RenderedEmail(
        subject=subject,
        html=env.get_template("email/digest.html").render(context),
        text=env.get_template("email/digest.txt").render(context),
    )


def _preheader(papers: list[DigestPaper]) -> str:
    if not papers:
        return "No new papers matched your interests today."
    titles = "; ".join(p.title for p in papers[:3])
    return _shorten(f"{len(papers)} papers for you: {titles}", 140)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
