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

from newsletter.render.environment import email_environment, inline_css
from newsletter.subscriptions.links import CLICK_TARGETS

MAX_AUTHORS = 4
MAX_TITLE = 300
MAX_CATEGORIES = 5
# Abstract leads by trim level: (sentences, characters). Level 0 is what a reader
# normally gets; level 1 is used when the digest would be clipped by Gmail.
LEAD_LEVELS = ((2, 420), (1, 200))
THUMB_WIDTH, THUMB_HEIGHT = 200, 105
# Gmail clips messages whose HTML exceeds about 102 KB; stay clearly below it.
HTML_LIMIT = 100_000

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[“\"'])")
_SPACES = re.compile(r"\s+")


def collapse(text: str) -> str:
    """Squash runs of whitespace (sources hard-wrap titles and abstracts) into one space."""
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def abstract_lead(abstract: str, level: int) -> tuple[str, bool]:
    """Return the first sentences of `abstract` for trim `level`, and whether text was cut."""
    text = collapse(abstract)
    if not text:
        return "", False
    sentences, limit = LEAD_LEVELS[level]
    parts = _SENTENCE_END.split(text, maxsplit=sentences)
    lead = " ".join(parts[:sentences])
    lead = shorten(lead, limit)
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

    def __hash__(self) -> int:
        # Cards are cached by paper; hash the fields once, not on every lookup.
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    @functools.cached_property
    def display_title(self) -> str:
        return shorten(collapse(self.title), MAX_TITLE) or self.arxiv_id

    @property
    def short_authors(self) -> str:
        names = [shorten(collapse(a), 60) for a in self.authors if a.strip()]
        if len(names) <= MAX_AUTHORS:
            return ", ".join(names)
        return ", ".join(names[: MAX_AUTHORS - 1]) + f" et al. ({len(names)} authors)"

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
        # Only https images: mail clients block or warn about plain http.
        url = self.thumbnail_url
        return url if url and url.startswith("https://") else None


@dataclass(frozen=True)
class Pick:
    """One paper chosen for one reader, with why."""

    paper: DigestPaper
    reason: str = ""


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


@dataclass(frozen=True)
class EditionLabels:
    """How an edition's date reads in the subject, the heading and the page title."""

    key: str
    date_label: str
    heading_date: str
    subject_date: str

    @classmethod
    def from_key(cls, key: str) -> EditionLabels:
        kind, _, rest = key.partition("-")
        if kind == "weekly" and "-W" in rest:
            year, week = rest.split("-W", 1)
            return cls(
                key, f"week {int(week)}, {year}", f"week {int(week)} of {year}", f"week {int(week)}"
            )
        try:
            day = date.fromisoformat(rest)
        except ValueError:
            return cls(key, rest or key, rest or key, rest or key)
        return cls(
            key,
            day.isoformat(),
            f"{day:%A} {day.day} {day:%B %Y}",
            f"{day:%a} {day.day} {day:%b}",
        )


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str


ClickUrls = Callable[[Reader, DigestPaper], dict[str, str | None]]


def subject_for(labels: EditionLabels, picks: Sequence[Pick]) -> str:
    """Name the date and the top paper: what makes a reader open today's email."""
    subject = f"Trending papers for {labels.subject_date}"
    if picks:
        subject += f": {shorten(picks[0].paper.display_title, 80)}"
    return subject


def more_label(count: int) -> str:
    return f"{count} more paper{'s' if count != 1 else ''}"


def preheader_for(picks: Sequence[Pick], shown: int) -> str:
    if not picks:
        return "No new papers matched your interests this time."
    titles = "; ".join(p.paper.display_title for p in picks[:3])
    count = f"{len(picks)} paper{'s' if len(picks) != 1 else ''} picked for you"
    return shorten(f"{count}: {titles}", 140) if shown else count


def card_context(
    paper: DigestPaper, urls: dict[str, Any], reason: str, level: int, number: Any
) -> dict[str, Any]:
    lead, cut = abstract_lead(paper.abstract, level)
    return {
        "paper": paper,
        "urls": {t: urls.get(t) for t in CLICK_TARGETS},
        "reason": reason,
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
        **values,
    }


def render_digest(
    labels: EditionLabels,
    reader: Reader,
    picks: Sequence[Pick],
    click_urls: ClickUrls,
    *,
    level: int = 0,
    shown: int | None = None,
) -> RenderedEmail:
    """Render one reader's digest from scratch: Jinja for every part, premailer per email.

    `level` and `shown` (how many picks fit) come from the cached path's size plan, so
    both paths show the same thing.
    """
    env = email_environment()
    shown = len(picks) if shown is None else shown
    html_cards, text_cards = [], []
    for number, pick in enumerate(picks[:shown], start=1):
        context = card_context(
            pick.paper, click_urls(reader, pick.paper), pick.reason, level, number
        )
        html_cards.append(env.get_template("email/_paper.html").render(context))
        text_cards.append(env.get_template("email/_paper.txt").render(context))
    values = reader_values(reader, picks, shown)
    html = env.get_template("email/digest.html").render(
        shell_context(labels, {**values, "cards": Markup("".join(html_cards))})
    )
    text = env.get_template("email/digest.txt").render(
        shell_context(labels, {**values, "cards": "\n".join(text_cards)})
    )
    return RenderedEmail(
        subject=subject_for(labels, picks), html=_line_end(inline_css(html)), text=_line_end(text)
    )


def _line_end(text: str) -> str:
    """End with a line break, as the standard library's MIME parts do."""
    return text if text.endswith("\n") else text + "\n"


def reader_values(reader: Reader, picks: Sequence[Pick], shown: int) -> dict[str, Any]:
    """The per-reader values of the digest shell (slots in the cached path)."""
    return {
        "email": reader.email,
        "preheader": preheader_for(picks, shown),
        "view_url": reader.view_url,
        "preferences_url": reader.preferences_url,
        "unsubscribe_url": reader.unsubscribe_url,
        "next_due": reader.next_due or "",
        "more_label": more_label(len(picks) - shown),
        "has_papers": shown > 0,
        "has_more": len(picks) > shown,
        "has_next_due": bool(reader.next_due),
    }
