"""Read the offline ranking inputs (PAPERS.json, PROFILE.json), refusing bad files clearly.

Every problem becomes one `BadInput` whose message names the file, the item and the
field, so the team's evaluation scripts can show it as is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsletter.ranking.profile import CandidatePaper, Profile

PROFILE_LISTS = ("keywords", "negative_keywords", "categories", "seed_papers", "liked", "hidden")
PROFILE_FIELDS = (*PROFILE_LISTS, "description")


class BadInput(ValueError):
    """An input file a person can fix; the message says which and how."""


def _load(path: Path) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _text(value: Any, where: str, name: str, *, required: bool) -> str:
    if value is None:
        if required:
            raise BadInput(f"{where}: missing {name!r}")
        return ""
    if not isinstance(value, str):
        raise BadInput(f"{where}: {name!r} must be a string, not {type(value).__name__}")
    if required and not value.strip():
        raise BadInput(f"{where}: {name!r} is empty")
    return value


def _strings(value: Any, where: str, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{where}: {name!r} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _paper(item: Any, where: str) -> CandidatePaper:
    if not isinstance(item, dict):
        raise BadInput(f"{where}: must be an object with arxiv_id, title and abstract")
    upvotes = item.get("upvotes", 0)
    if upvotes is None:
        upvotes = 0
    if isinstance(upvotes, bool) or not isinstance(upvotes, int) or upvotes < 0:
        raise BadInput(f"{where}: 'upvotes' must be a whole number of at least 0")
    published = item.get("published_at")
    published_at = None
    if published is not None:
        if not isinstance(published, str):
            raise BadInput(f"{where}: 'published_at' must be an ISO 8601 string")
        try:
            published_at = datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(
                f"{where}: 'published_at' {published!r} is not an ISO 8601 date or time"
            ) from None
        if published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=UTC)
    return CandidatePaper(
        arxiv_id=_text(item.get("arxiv_id"), where, "arxiv_id", required=True).strip(),
        title=_text(item.get("title"), where, "title", required=True),
        abstract=_text(item.get("abstract"), where, "abstract", required=True),
        categories=_strings(item.get("categories"), where, "categories"),
        upvotes=upvotes,
        published_at=published_at,
    )


def load_papers(path: Path) -> list[CandidatePaper]:
    """Read PAPERS.json: a JSON array of papers (arxiv_id, title, abstract, ...)."""
    data = _load(path)
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]  # also accept the bundled sample's {"papers": [...]} form
    if not isinstance(data, list):
        raise BadInput(f"{path}: expected a JSON array of papers, found {type(data).__name__}")
    if not data:
        raise BadInput(f"{path}: no papers to rank (the array is empty)")
    papers: list[CandidatePaper] = []
    seen: set[str] = set()
    for number, item in enumerate(data, start=1):
        paper = _paper(item, f"{path}: paper {number}")
        if paper.arxiv_id in seen:
            raise BadInput(f"{path}: paper {number}: arxiv_id {paper.arxiv_id!r} appears twice")
        seen.add(paper.arxiv_id)
        papers.append(paper)
    return papers


def load_profile(path: Path, papers: list[CandidatePaper]) -> Profile:
    """Read PROFILE.json: an object with optional keywords, categories, description, ..."""
    data = _load(path)
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object, found {type(data).__name__}")
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise BadInput(
            f"{path}: unknown field {unknown[0]!r}; expected some of {', '.join(PROFILE_FIELDS)}"
        )
    lists = {name: _strings(data.get(name), str(path), name) for name in PROFILE_LISTS}
    known = {p.arxiv_id for p in papers}
    for name in ("seed_papers", "liked", "hidden"):
        missing = [a for a in lists[name] if a not in known]
        if missing:
            raise BadInput(f"{path}: {name} names {missing[0]!r}, which is not in the papers file")
    return Profile(
        keywords=lists["keywords"],
        negative_keywords=lists["negative_keywords"],
        categories=lists["categories"],
        description=_text(data.get("description"), str(path), "description", required=False),
        seed_papers=lists["seed_papers"],
        liked=lists["liked"],
        hidden=lists["hidden"],
    )
