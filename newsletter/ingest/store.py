"""Idempotent storage of paper records, keyed on the arXiv id without version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.ingest.normalise import PaperRecord
from newsletter.models import Paper
from newsletter.timeutil import as_utc, utcnow

# Columns a later sighting may overwrite when it carries a value.
_MERGED = [f.name for f in fields(PaperRecord) if f.name not in {"arxiv_id", "source", "version"}]


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_papers(session: Session, records: Iterable[PaperRecord]) -> UpsertCounts:
    """Insert new papers and merge later sightings into existing rows.

    A newer version replaces the text; an older one never does. A paper seen by two
    sources stays one row that records both.
    """
    batch = {r.arxiv_id: r for r in records}
    counts = UpsertCounts()
    if not batch:
        return counts
    existing = {
        p.arxiv_id: p for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(list(batch))))
    }
    now = utcnow()
    for arxiv_id, record in batch.items():
        paper = existing.get(arxiv_id)
        if paper is None:
            paper = Paper(arxiv_id=arxiv_id, version=record.version, sources=[record.source])
            paper.first_seen_at = now
            _merge(paper, record, replace_text=True)
            paper.last_seen_at = now
            session.add(paper)
            counts.new += 1
            continue
        changed = _merge(paper, record, replace_text=record.version >= paper.version)
        if record.version > paper.version:
            paper.version = record.version
            changed = True
        if record.source not in paper.sources:
            paper.sources = [*paper.sources, record.source]
            changed = True
        paper.last_seen_at = now
        if changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
    session.flush()
    return counts


def _merge(paper: Paper, record: PaperRecord, *, replace_text: bool) -> bool:
    changed = False
    for name in _MERGED:
        value = getattr(record, name)
        if value is None or value == [] or value == "":
            continue
        if not replace_text and name in {"title", "title_raw", "abstract", "abstract_raw"}:
            continue
        current = getattr(paper, name)
        # SQLite hands back naive UTC; compare instants, not representations.
        if (
            isinstance(current, datetime)
            and isinstance(value, datetime)
            and as_utc(current) == as_utc(value)
        ):
            continue
        if current != value:
            setattr(paper, name, value)
            changed = True
    return changed
