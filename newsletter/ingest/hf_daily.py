"""Hugging Face Daily Papers (GET /api/daily_papers?date=YYYY-MM-DD): what people upvote.

The only source of trending signals (upvotes, comments, GitHub stars), of a one-line
summary and keywords written by its model (ai_summary, ai_keywords) and, since Papers
with Code shut down, of code links (githubRepo) and project pages. It does not say which
arXiv version it describes, so its records carry version 0: they add papers but never
overwrite text a versioned source wrote.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from newsletter.config import Settings
from newsletter.ingest.http import Fetched, HttpClient
from newsletter.ingest.normalise import (
    InvalidPaper,
    MalformedDocument,
    PaperRecord,
    Parsed,
    abs_url,
    clean_prose,
    clean_text,
    parse_time,
    pdf_url,
    split_arxiv_id,
)

SOURCE = "hf"
PAPER_PAGE = "https://huggingface.co/papers/{id}"
MAX_KEYWORDS = 30  # the feed lists 5-20; a runaway list must not bloat every row


def parse(data: bytes, *, source: str = SOURCE) -> Parsed:
    """Turn one daily-papers JSON array into records; odd items become problems."""
    try:
        items = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedDocument(f"Hugging Face daily papers: not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise MalformedDocument(
            f"Hugging Face daily papers: expected a JSON array, got {type(items).__name__}"
        )
    parsed = Parsed()
    for item in items:
        paper = item.get("paper") if isinstance(item, dict) else None
        guess = paper.get("id") if isinstance(paper, dict) else None
        try:
            parsed.records.append(_record(item, source))
        except InvalidPaper as exc:
            parsed.problem(str(guess) if guess else None, str(exc))
    return parsed


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _keywords(value: Any) -> list[str]:
    """Keep the readable strings of ai_keywords, once each, in Hugging Face's order."""
    if not isinstance(value, list):
        return []
    words = (clean_prose(v) for v in value if isinstance(v, str))
    return list(dict.fromkeys(w for w in words if w))[:MAX_KEYWORDS]


def _url(value: Any) -> str | None:
    text = _str(value).strip()
    return text if text.startswith(("https://", "http://")) else None


def _record(item: Any, source: str) -> PaperRecord:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise InvalidPaper("item has no 'paper' object")
    paper: dict[str, Any] = item["paper"]
    raw_id = _str(paper.get("id"))
    if not raw_id:
        raise InvalidPaper("paper has no id")
    arxiv_id, _version = split_arxiv_id(raw_id)
    title_raw = _str(paper.get("title")) or _str(item.get("title"))
    abstract_raw = _str(paper.get("summary")) or _str(item.get("summary"))
    if not title_raw.strip():
        raise InvalidPaper("missing title")
    if not abstract_raw.strip():
        raise InvalidPaper("missing summary")
    authors = [
        {"name": clean_text(_str(a.get("name"))), "affiliation": None}
        for a in paper.get("authors") or []
        if isinstance(a, dict) and _str(a.get("name")).strip()
    ]
    upvotes = _count(paper.get("upvotes"))
    if upvotes is None:
        upvotes = _count(item.get("upvotes"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=0,
        title=clean_prose(title_raw),
        title_raw=title_raw.strip(),
        abstract=clean_prose(abstract_raw),
        abstract_raw=abstract_raw.strip(),
        authors=authors,
        published_at=parse_time(_str(paper.get("publishedAt"))),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        hf_url=PAPER_PAGE.format(id=arxiv_id),
        code_url=_url(paper.get("githubRepo")),
        project_url=_url(paper.get("projectPage")),
        thumbnail_url=_url(item.get("thumbnail")),
        upvotes=upvotes if upvotes is not None else 0,
        num_comments=_count(item.get("numComments")) or 0,
        ai_summary=clean_prose(_str(paper.get("ai_summary"))) or None,
        ai_keywords=_keywords(paper.get("ai_keywords")),
        github_stars=_count(paper.get("githubStars")),
        source=source,
    )


def fetch(
    client: HttpClient,
    settings: Settings,
    day: date | None = None,
    *,
    validators: dict[str, str] | None = None,
) -> Fetched:
    """Fetch the daily list of `day` (default: the API's own "today")."""
    params = {"date": day.isoformat()} if day else None
    return client.get(settings.hf_api_url, params=params, validators=validators)


def request_url(settings: Settings, day: date | None) -> str:
    """Return the URL fetched for `day`: the key its ETag is stored under."""
    return settings.hf_api_url + (f"?date={day.isoformat()}" if day else "")
