"""The common shape every source is turned into, and the text clean-up they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import lxml.html
from lxml import etree

from newsletter.ingest.latex import latex_to_text, plain_letters

# New style (2411.01234, optional version) and old style (math/0211159, hep-th/9901001v2).
_ARXIV_ID = re.compile(
    r"^(?P<id>(?:\d{4}\.\d{4,5})|(?:[a-z][a-z.\-]*/\d{7})|(?:sample\.\d{4}))(?:v(?P<v>\d+))?$",
    re.IGNORECASE,
)
_WHITESPACE = re.compile(r"\s+")


class InvalidPaper(ValueError):
    """An entry cannot be stored; the message names what is wrong."""


class MalformedDocument(ValueError):
    """A whole response cannot be read (not XML, not JSON, not the expected shape).

    Permanent for that document: nothing from it is stored, the run records why.
    """


@dataclass
class PaperRecord:
    """One paper as a source reported it, already normalised for storage."""

    arxiv_id: str
    title: str
    abstract: str = ""
    version: int = 1
    title_raw: str = ""
    abstract_raw: str = ""
    authors: list[dict[str, str | None]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    hf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    # Hugging Face's one-line summary and keywords (its model's), and the code's stars.
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    github_stars: int | None = None
    withdrawn: bool = False
    source: str = "sample"


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Split '2411.01234v2' or an abs URL into ('2411.01234', 2); version None if absent."""
    value = raw.strip()
    for prefix in ("http://arxiv.org/abs/", "https://arxiv.org/abs/", "arXiv:", "arxiv:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    match = _ARXIV_ID.match(value)
    if not match:
        raise InvalidPaper(f"not an arXiv identifier: {raw!r}")
    version = match.group("v")
    return match.group("id"), int(version) if version else None


def clean_text(raw: str) -> str:
    """Turn LaTeX-laden, hard-wrapped source text into readable Unicode on one line.

    Unknown macros such as ``\\collabvoyager`` become their bare name rather than
    vanishing, so a sentence keeps its subject; see `newsletter.ingest.latex`.
    """
    text = _WHITESPACE.sub(" ", raw).strip()
    text = plain_letters(latex_to_text(text))
    return _WHITESPACE.sub(" ", text).strip()


def clean_prose(raw: str) -> str:
    """Normalise a title or an abstract from the raw text its source gave.

    The one path for every source and for `newsletter papers reclean`, so re-cleaning a
    stored paper gives what ingesting it today would. Stray HTML (Hugging Face) goes
    first, then LaTeX.
    """
    return clean_text(strip_markup(raw))


@dataclass
class Parsed:
    """What a parser made of one document: good records, and one problem per bad entry."""

    records: list[PaperRecord] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    # Paging: total results (arXiv API) or the next resumption token (OAI-PMH).
    total: int | None = None
    next_token: str | None = None

    def problem(self, entry_id: str | None, error: str) -> None:
        self.problems.append({"id": entry_id or "?", "error": error})


# lxml parser for untrusted XML: no entity expansion, no network, no huge trees.
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML or raise MalformedDocument naming `what` and the parse error."""
    if not data.strip():
        raise MalformedDocument(f"{what}: empty document")
    try:
        return etree.fromstring(data, parser=SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise MalformedDocument(f"{what}: not well-formed XML ({exc})") from None


def html_to_text(value: str) -> str:
    """Reduce an HTML fragment to its text, so no source markup ever reaches an email."""
    if "<" not in value and "&" not in value:
        return value
    try:
        fragment = lxml.html.fragment_fromstring(value, create_parent="div")
    except (etree.ParserError, ValueError):
        return value
    return str(fragment.text_content())


_HTML_TAG = re.compile(
    r"</?(?:a|b|i|u|em|strong|p|br|span|div|sup|sub|code|tt|ul|ol|li|h[1-6]|img|script|style)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)


def strip_markup(value: str) -> str:
    """Remove HTML tags from text that is usually plain (Hugging Face, JSON fields).

    Only real tag names count as markup, so "x<y and y>z" in an abstract survives.
    """
    if not _HTML_TAG.search(value):
        return value
    return html_to_text(value)


_WITHDRAWN = re.compile(
    r"(\b(this|the) (paper|article|submission|manuscript|preprint) (has been|is|was) withdrawn"
    r"|\bwithdrawn by the (author|authors|submitter|arxiv admin)"
    r"|^\s*withdrawn\b)",
    re.IGNORECASE,
)


def is_withdrawn(*texts: str | None) -> bool:
    """Tell whether a comment or abstract announces a withdrawal (arXiv's own wording)."""
    return any(text and _WITHDRAWN.search(text) for text in texts)


def parse_time(value: str | None) -> datetime | None:
    """Parse ISO 8601 or RFC 2822 times to aware UTC; None for missing or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def split_author_names(value: str) -> list[str]:
    """Split 'A. Smith, B. Jones and C. White' (one comma-joined creator) into names."""
    text = _WHITESPACE.sub(" ", value).strip()
    if not text:
        return []
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text)
    return [part.strip() for part in parts if part.strip()]


def https(url: str | None) -> str | None:
    """Prefer https for arXiv links (the API still hands out http:// URLs)."""
    if url and url.startswith("http://arxiv.org/"):
        return "https://" + url[len("http://") :]
    return url


def abs_url(arxiv_id: str, version: int | None = None) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}" + (f"v{version}" if version else "")


def pdf_url(arxiv_id: str, version: int | None = None) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}" + (f"v{version}" if version else "")
