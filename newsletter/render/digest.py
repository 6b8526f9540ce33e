"""What a digest shows, and the straightforward way to render it (Jinja + premailer per email).

`render_digest` is the reference: every email rendered and inlined from scratch. The
pipeline uses the cached path in `parts.py`, which must produce the same bytes; tests
and bench/bench_render.py compare the two.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from markupsafe import Markup

from newsletter.render.environment import email_environment, inline_css, wrap
from newsletter.subscriptions.links import CLICK_TARGETS, FEEDBACK_CHOICES
from newsletter.summary import shorten, tldr
from newsletter.timeutil import day_label

MAX_AUTHORS = 4
MAX_AFFILIATIONS = 2
MAX_TITLE = 300
MAX_CATEGORIES = 5
# TL;DR length by trim level. Level 0 is what a reader normally gets; level 1 is used
# when the digest would be clipped by Gmail. (Kept as a tuple of levels: compose.py
# walks them.)
LEAD_LEVELS = ((1, 320), (1, 160))
# Hugging Face's social thumbnails are 1200x630; shown beside the title, fixed size.
THUMB_WIDTH, THUMB_HEIGHT = 120, 63
# Only thumbnails from hosts known to serve them without a login or a referrer check.
THUMB_HOSTS = ("https://cdn-thumbnails.huggingface.co/", "https://huggingface.co/")
# Per-reader links of a card: each paper target, then "More/Less like this".
CARD_LINKS = (*CLICK_TARGETS, *FEEDBACK_CHOICES)
# Gmail clips messages whose HTML exceeds about 102 KB; stay clearly below it.
HTML_LIMIT = 100_000

_SPACES = re.compile(r"\s+")
_CSS_URL = re.compile(r"https://[A-Za-z0-9._~/%+=&?-]+")


def collapse(text: str) -> str:
    """Squash runs of whitespace (sources hard-wrap titles and abstracts) into one space."""
    return _SPACES.sub(" ", text).strip()


def abstract_lead(summary: str, level: int) -> tuple[str, bool]:
    """Return the TL;DR shortened for trim `level`, and whether text was cut."""
    text = collapse(summary)
    lead = shorten(text, LEAD_LEVELS[level][1])
    return lead, lead != text


@dataclass(frozen=True)
class DigestPaper:
    """A paper as the digest shows it: edition-level facts, the same for every reader."""

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    upvotes: int = 0
    abs_url: str | None = None
    pdf_url: str | None = None
    hf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    ai_summary: str | None = None
    affiliations: tuple[str, ...] = ()
    num_comments: int = 0
    github_stars: int | None = None

    def __hash__(self) -> int:
        # Cards are cached by paper; hash the fields once, not on every lookup.
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    @functools.cached_property
    def display_title(self) -> str:
        return shorten(collapse(self.title), MAX_TITLE) or self.arxiv_id

    @functools.cached_property
    def tldr(self) -> str:
        """What the paper does, in one sentence (see newsletter/summary.py)."""
        return tldr(self.title, self.abstract, self.ai_summary)

    @property
    def short_authors(self) -> str:
        names = [shorten(collapse(a), 60) for a in self.authors if a.strip()]
        if len(names) <= MAX_AUTHORS:
            return ", ".join(names)
        return ", ".join(names[: MAX_AUTHORS - 1]) + f" and {len(names) - MAX_AUTHORS + 1} more"

    @property
    def short_affiliations(self) -> str:
        """The first distinct affiliations, as known (arXiv rarely has them; HF sometimes)."""
        seen = list(dict.fromkeys(shorten(collapse(a), 60) for a in self.affiliations if a.strip()))
        shown = ", ".join(seen[:MAX_AFFILIATIONS])
        extra = len(seen) - MAX_AFFILIATIONS
        return shown + (f" and {extra} more" if extra > 0 else "")

    @property
    def shown_categories(self) -> list[str]:
        return list(self.categories[:MAX_CATEGORIES])

    @functools.cached_property
    def targets(self) -> tuple[str, ...]:
        """The click targets this paper has a URL for ("abs" always: it has a fallback)."""
        urls = {
            "pdf": self.pdf_url,
            "hf": self.hf_url,
            "code": self.code_url,
            "project": self.project_url,
        }
        return ("abs", *(t for t in CLICK_TARGETS[1:] if urls.get(t)))

    def thumbnail(self) -> str | None:
        # Only Hugging Face's https thumbnails: known to load, 1200x630, no login.
        # It goes into a CSS url(): only characters that cannot end it.
        url = self.thumbnail_url
        ok = url and url.startswith(THUMB_HOSTS) and _CSS_URL.fullmatch(url)
        return url if ok else None


@dataclass(frozen=True)
class Card:
    """One paper as a reader's digest shows it: the paper, why it is there, which section.

    The ranking's own record of a choice is newsletter.ranking.profile.Pick (an id, a
    score and a reason, stored on the Delivery); a Card is that pick with its paper
    loaded for display.
    """

    paper: DigestPaper
    reason: str = ""
    # In the "Also trending" section: popular, outside the reader's interests.
    trending: bool = False


@dataclass(frozen=True)
class Reader:
    """The per-reader values of a digest (everything else is the same for the edition)."""

    subscriber_id: int
    generation: int
    email: str
    view_url: str
    preferences_url: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    next_due: str | None = None
    # How many new papers the edition had to pick from ("5 picks from 412 new papers").
    pool: int = 0
    # Off: paper links go straight to the paper (no /c/ redirect, no click recorded).
    tracking: bool = True


@dataclass(frozen=True)
class EditionLabels:
    """How an edition's date reads in the subject, the heading and the page title."""

    key: str
    date_label: str
    heading_date: str
    subject_date: str
    period: str = "today"

    @classmethod
    def from_key(cls, key: str) -> EditionLabels:
        kind, _, rest = key.partition("-")
        if kind == "weekly" and "-W" in rest:
            year, week = rest.split("-W", 1)
            label = f"week {int(week)} of {year}"
            return cls(key, label, label, label, "this week")
        try:
            day = date.fromisoformat(rest)
        except ValueError:
            # Never show the internal key ("daily-..."): a neutral label instead.
            return cls(key, "this edition", "this edition", "this edition", "in this edition")
        label = day_label(day)
        return cls(key, label, label, label)


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str


ClickUrls = Callable[[Reader, DigestPaper], dict[str, str | None]]


def subject_for(labels: EditionLabels, picks: Sequence[Card]) -> str:
    """Name the top paper and how many follow: what makes a reader open today's email."""
    mine = [p for p in picks if not p.trending]
    if not mine:
        return f"Trending papers, {labels.subject_date}: nothing new for you"
    subject = shorten(mine[0].paper.display_title, 90)
    return subject + (f" +{len(mine) - 1} more" if len(mine) > 1 else "")


def intro_for(labels: EditionLabels, picks: Sequence[Card], pool: int) -> str:
    """The line under the heading: "5 picks from 412 new papers today"."""
    mine = sum(1 for p in picks if not p.trending)
    count = f"{mine} pick{'s' if mine != 1 else ''}"
    if pool >= mine and pool:
        return f"{count} from {pool} new paper{'s' if pool != 1 else ''} {labels.period}"
    return f"{count} {labels.period}"


def more_label(count: int) -> str:
    return f"{count} more paper{'s' if count != 1 else ''}"


def split_picks(picks: Sequence[Card]) -> tuple[list[Card], list[Card]]:
    """The reader's own picks ("For you") and the "Also trending" ones, in order."""
    return [p for p in picks if not p.trending], [p for p in picks if p.trending]


def preheader_for(picks: Sequence[Card], shown: int) -> str:
    mine = [p for p in picks if not p.trending]
    if not mine:
        return "No new papers matched your interests this time."
    # The subject already names the first: the preheader goes on with the next ones.
    titles = "; ".join(p.paper.display_title for p in mine[1:3]) or mine[0].paper.display_title
    count = f"{len(mine)} paper{'s' if len(mine) != 1 else ''} picked for you"
    return shorten(f"{count}: {titles}", 140) if shown else count


def reason_text(reason: str) -> str:
    """The reason as the text part shows it, wrapped (a slot marker stays as it is)."""
    if isinstance(reason, Markup) or not reason:
        return reason
    return wrap(f"Why: {reason}", 3)


def card_context(
    paper: DigestPaper, urls: dict[str, Any], reason: str, level: int, number: Any
) -> dict[str, Any]:
    lead, cut = abstract_lead(paper.tldr, level)
    return {
        "paper": paper,
        "urls": {t: urls.get(t) for t in CARD_LINKS},
        "reason": reason,
        "reason_text": reason_text(reason),
        "lead": lead,
        "lead_cut": cut,
        "number": number,
        "thumb": paper.thumbnail(),
        "thumb_width": THUMB_WIDTH,
        "thumb_height": THUMB_HEIGHT,
    }


def shell_context(labels: EditionLabels, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "date_label": labels.date_label,
        "heading_date": labels.heading_date,
        "is_public": False,
        **values,
    }


def render_digest(
    labels: EditionLabels,
    reader: Reader,
    picks: Sequence[Card],
    click_urls: ClickUrls,
    *,
    level: int = 0,
    shown: int | None = None,
    public: bool = False,
) -> RenderedEmail:
    """Render one reader's digest from scratch: Jinja for every part, premailer per email.

    `level` and `shown` (how many picks fit) come from the cached path's size plan, so
    both paths show the same thing. `public`: the edition's page for anyone (no reader,
    no personal links), shown when a reader's own link was revoked.
    """
    env = email_environment()
    mine, trending = split_picks(picks)
    shown = len(mine) if shown is None else shown
    html_cards: list[list[str]] = [[], []]
    text_cards: list[list[str]] = [[], []]
    numbered = [*enumerate(mine[:shown], start=1), *enumerate(trending, start=len(mine) + 1)]
    for number, pick in numbered:
        context = card_context(
            pick.paper, click_urls(reader, pick.paper), pick.reason, level, number
        )
        html_cards[pick.trending].append(env.get_template("email/_paper.html").render(context))
        text_cards[pick.trending].append(env.get_template("email/_paper.txt").render(context))
    values = {**reader_values(labels, reader, picks, shown), "is_public": public}
    html = env.get_template("email/digest.html").render(
        shell_context(
            labels,
            {
                **values,
                "cards": Markup("".join(html_cards[0])),
                "trending_cards": Markup("".join(html_cards[1])),
            },
        )
    )
    text = env.get_template("email/digest.txt").render(
        shell_context(
            labels,
            {
                **values,
                "cards": "\n".join(text_cards[0]),
                "trending_cards": "\n".join(text_cards[1]),
            },
        )
    )
    return RenderedEmail(
        subject=subject_for(labels, picks), html=_line_end(inline_css(html)), text=_line_end(text)
    )


def _line_end(text: str) -> str:
    """End with a line break, as the standard library's MIME parts do."""
    return text if text.endswith("\n") else text + "\n"


def reader_values(
    labels: EditionLabels, reader: Reader, picks: Sequence[Card], shown: int
) -> dict[str, Any]:
    """The per-reader values of the digest shell (slots in the cached path)."""
    mine = split_picks(picks)[0]
    return {
        "email": reader.email,
        "intro": intro_for(labels, picks, reader.pool),
        "preheader": preheader_for(picks, shown),
        "view_url": reader.view_url,
        "preferences_url": reader.preferences_url,
        "unsubscribe_url": reader.unsubscribe_url,
        "next_due": reader.next_due or "",
        "more_label": more_label(len(mine) - shown),
        **shell_flags(reader, picks, shown),
    }


def shell_flags(reader: Reader, picks: Sequence[Card], shown: int) -> dict[str, bool]:
    """Which variant of the shell a reader gets (each is rendered once per edition)."""
    mine = sum(1 for p in picks if not p.trending)
    return {
        "has_papers": shown > 0,
        "has_more": mine > shown,
        "has_next_due": bool(reader.next_due),
        "has_trending": mine < len(picks),
        "has_tracking": reader.tracking,
    }
