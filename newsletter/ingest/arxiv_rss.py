"""arXiv's daily listing feeds (rss.arxiv.org, RSS 2.0 or Atom): what was announced today.

Each item carries arxiv:announce_type (new, cross, replace, replace-cross), the abstract
inside the description after "arXiv:ID Announce Type: X Abstract:", one comma-joined
dc:creator and the categories, but no primary category and no affiliations: those gaps
are filled from the API afterwards (see `newsletter.ingest.gaps`).
"""

from __future__ import annotations

import re
import xml.sax
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import feedparser

from newsletter.config import Settings
from newsletter.ingest.http import Fetched, HttpClient
from newsletter.ingest.normalise import (
    InvalidPaper,
    MalformedDocument,
    PaperRecord,
    Parsed,
    abs_url,
    clean_prose,
    html_to_text,
    is_withdrawn,
    pdf_url,
    split_arxiv_id,
    split_author_names,
)

SOURCE = "arxiv-rss"
ANNOUNCE_TYPES = frozenset({"new", "cross", "replace", "replace-cross"})
_HEADER = re.compile(
    r"^\s*arXiv:(?P<id>\S+?)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?",
    re.IGNORECASE,
)
# The pre-2024 format appended "(arXiv:2402.01234v1 [cs.LG])" to every title.
_OLD_TITLE_SUFFIX = re.compile(r"\s*\(arXiv:\S+ \[[^\]]+\](?: UPDATED)?\)\s*$")


def feed_url(settings: Settings, categories: Sequence[str]) -> str:
    """Build the listing URL; several categories are joined with '+' into one feed."""
    return f"{settings.arxiv.rss_url}/{'+'.join(categories)}"


def parse(data: bytes, *, source: str = SOURCE) -> Parsed:
    """Turn one listing feed into records; an empty feed (weekends) is not an error."""
    if not data.strip():
        raise MalformedDocument("arXiv listing feed: empty document")
    feed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    if feed.get("bozo") and isinstance(feed.get("bozo_exception"), xml.sax.SAXException):
        # A truncated or broken document: its last entries cannot be trusted, so none are.
        raise MalformedDocument(
            f"arXiv listing feed: not well-formed XML ({feed['bozo_exception']})"
        )
    if not feed.get("version"):
        raise MalformedDocument("arXiv listing feed: not an RSS or Atom feed")
    parsed = Parsed()
    for entry in feed.entries:
        guess = str(entry.get("id") or entry.get("link") or "")
        try:
            parsed.records.append(_record(entry, source))
        except InvalidPaper as exc:
            parsed.problem(guess.replace("oai:arXiv.org:", "") or None, str(exc))
    return parsed


def _plain(entry: Any, key: str) -> str:
    value = str(entry.get(key) or "")
    detail = entry.get(f"{key}_detail") or {}
    if "html" in str(detail.get("type", "")):
        value = html_to_text(value)
    return value


def _record(entry: Any, source: str) -> PaperRecord:
    raw_id = str(entry.get("id") or "").replace("oai:arXiv.org:", "").strip()
    description = _plain(entry, "summary")
    header = _HEADER.match(description)
    if header:
        raw_id = raw_id or header.group("id")
        abstract_raw = description[header.end() :]
    else:
        abstract_raw = description
    if not raw_id and entry.get("link"):
        raw_id = str(entry["link"])
    if not raw_id:
        raise InvalidPaper("entry has no id or link")
    arxiv_id, version = split_arxiv_id(raw_id)
    if version is None and header:
        _, version = split_arxiv_id(header.group("id"))
    announce = str(entry.get("arxiv_announce_type") or (header.group("type") if header else ""))
    announce = announce.strip().lower()
    title_raw = _OLD_TITLE_SUFFIX.sub("", _plain(entry, "title"))
    if not title_raw.strip():
        raise InvalidPaper("missing title")
    if not abstract_raw.strip():
        raise InvalidPaper("missing abstract")
    names = split_author_names(html_to_text(str(entry.get("author") or "")))
    if not names:
        raise InvalidPaper("no authors")
    categories = [str(t.get("term")) for t in entry.get("tags", []) if t.get("term")]
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    abstract = clean_prose(abstract_raw)
    return PaperRecord(
        arxiv_id=arxiv_id,
        # "new" is version 1 by definition; a replacement without a version is at least 2.
        version=version or (2 if announce.startswith("replace") else 1),
        title=clean_prose(title_raw),
        title_raw=title_raw.strip(),
        abstract=abstract,
        abstract_raw=abstract_raw.strip(),
        authors=[{"name": name, "affiliation": None} for name in names],
        categories=list(dict.fromkeys(categories)),
        # Announcement date; the API's submission date replaces it when gaps are filled.
        published_at=_time(published),
        abs_url=abs_url(arxiv_id, version),
        pdf_url=pdf_url(arxiv_id, version),
        withdrawn=is_withdrawn(abstract),
        source=source,
    )


def _time(value: Any) -> datetime | None:
    # feedparser gives a UTC time.struct_time.
    if not value:
        return None
    year, month, day, hour, minute, second = value[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fetch(
    client: HttpClient,
    settings: Settings,
    categories: Sequence[str],
    *,
    validators: dict[str, str] | None = None,
) -> Fetched:
    """Fetch the listing of `categories` (conditional on the last run's validators)."""
    return client.get(feed_url(settings, categories), validators=validators)
