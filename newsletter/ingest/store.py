"""Idempotent bulk storage of paper records, keyed on the arXiv id without version.

One INSERT ... ON CONFLICT DO UPDATE per batch (PostgreSQL and SQLite alike) instead of a
round trip per paper: a 10,000-entry backfill is a few dozen statements. The merge rules
live in the SET clause, in SQL, so two workers upserting the same paper at once cannot
lose each other's changes:

- a newer (or equal) version replaces the text; an older one never does;
- upvotes, comment counts and GitHub stars refresh whenever the source reports them;
- other metadata: the latest non-empty value wins; published_at keeps the earliest;
- the sources list gains the new source once;
- the WHERE clause skips rows where nothing would change, so a re-run writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from newsletter.ingest.normalise import PaperRecord
from newsletter.models import Paper
from newsletter.timeutil import as_utc, utcnow

BATCH_SIZE = 500  # rows per statement: big enough to amortise a round trip, small enough to stream

_TABLE: Table = Paper.__table__  # type: ignore[assignment]

# Text replaced only by a record of the same or a newer version, and only when non-empty.
_VERSIONED_TEXT = (
    "title",
    "title_raw",
    "abstract",
    "abstract_raw",
    "comment",
    "journal_ref",
    "doi",
    "abs_url",
    "pdf_url",
)
# Latest non-empty value wins, whatever the version.
_LATEST_TEXT = (
    "primary_category",
    "hf_url",
    "code_url",
    "project_url",
    "thumbnail_url",
    "ai_summary",
)
_JSON = frozenset({"authors", "categories", "sources", "ai_keywords"})


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


def _set_clauses(
    dialect: str, *, version_known: bool, upvotes: bool, comments: bool
) -> dict[str, str]:
    """Return column -> SQL expression for the DO UPDATE SET, per dialect and record shape."""
    newer = "excluded.version >= papers.version"
    sets: dict[str, str] = {}
    if version_known:
        for name in _VERSIONED_TEXT:
            sets[name] = (
                f"CASE WHEN {newer} AND COALESCE(excluded.{name}, '') <> '' "
                f"THEN excluded.{name} ELSE papers.{name} END"
            )
        sets["authors"] = (
            f"CASE WHEN {newer} AND json_array_length(excluded.authors) > 0 "
            "THEN excluded.authors ELSE papers.authors END"
        )
        sets["updated_at"] = (
            f"CASE WHEN {newer} AND excluded.updated_at IS NOT NULL "
            "THEN excluded.updated_at ELSE papers.updated_at END"
        )
        # A withdrawal is a new version; the same version from another source may only
        # confirm it, never undo it.
        sets["withdrawn"] = (
            "CASE WHEN excluded.version > papers.version THEN excluded.withdrawn "
            "WHEN excluded.version = papers.version THEN (papers.withdrawn OR excluded.withdrawn) "
            "ELSE papers.withdrawn END"
        )
        greatest = "GREATEST" if dialect == "postgresql" else "MAX"
        sets["version"] = f"{greatest}(papers.version, excluded.version)"
        # A vector describes the text it was made from: new text, no vector (the embed
        # task makes a fresh one), rather than ranking a revision by its old abstract.
        differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
        sets["embedding"] = (
            f"CASE WHEN ({sets['title']}) {differs} papers.title "
            f"OR ({sets['abstract']}) {differs} papers.abstract "
            "THEN NULL ELSE papers.embedding END"
        )
    for name in _LATEST_TEXT:
        sets[name] = f"COALESCE(NULLIF(excluded.{name}, ''), papers.{name})"
    for name in ("categories", "ai_keywords"):
        sets[name] = (
            f"CASE WHEN json_array_length(excluded.{name}) > 0 "
            f"THEN excluded.{name} ELSE papers.{name} END"
        )
    # Stars refresh whenever a source reports them (only Hugging Face does).
    sets["github_stars"] = "COALESCE(excluded.github_stars, papers.github_stars)"
    if dialect == "postgresql":
        sets["published_at"] = "LEAST(papers.published_at, excluded.published_at)"
        sets["sources"] = (
            "CASE WHEN CAST(papers.sources AS jsonb) @> CAST(excluded.sources AS jsonb) "
            "THEN papers.sources "
            "ELSE CAST(CAST(papers.sources AS jsonb) || CAST(excluded.sources AS jsonb) AS json) "
            "END"
        )
    else:
        sets["published_at"] = (
            "CASE WHEN excluded.published_at IS NULL THEN papers.published_at "
            "WHEN papers.published_at IS NULL THEN excluded.published_at "
            "WHEN excluded.published_at < papers.published_at THEN excluded.published_at "
            "ELSE papers.published_at END"
        )
        sets["sources"] = (
            "CASE WHEN EXISTS (SELECT 1 FROM json_each(papers.sources) AS s "
            "WHERE s.value = json_extract(excluded.sources, '$[0]')) THEN papers.sources "
            "ELSE json_insert(papers.sources, '$[#]', json_extract(excluded.sources, '$[0]')) END"
        )
    if upvotes:
        sets["upvotes"] = "excluded.upvotes"
    if comments:
        sets["num_comments"] = "excluded.num_comments"
    return sets


def _changed(dialect: str, sets: dict[str, str]) -> str:
    """Build the DO UPDATE WHERE: true only if some column would really change."""
    terms = []
    for name, expr in sets.items():
        if dialect == "postgresql":
            if name in _JSON:
                # json has no equality operator; jsonb does.
                terms.append(
                    f"CAST(({expr}) AS jsonb) IS DISTINCT FROM CAST(papers.{name} AS jsonb)"
                )
            else:
                terms.append(f"({expr}) IS DISTINCT FROM papers.{name}")
        else:
            terms.append(f"({expr}) IS NOT papers.{name}")
    return " OR ".join(terms)


def _text(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; one stray byte must not sink a whole batch.
    return value.replace("\x00", "") if value and "\x00" in value else value


def _row(record: PaperRecord, now: Any) -> dict[str, Any]:
    row = _row_values(record, now)
    for name in _TEXT_COLUMNS:
        row[name] = _text(row[name])
    return row


_TEXT_COLUMNS = (*_VERSIONED_TEXT, *_LATEST_TEXT)


def _row_values(record: PaperRecord, now: Any) -> dict[str, Any]:
    return {
        "arxiv_id": record.arxiv_id,
        "version": max(record.version, 1),
        "title": record.title,
        "title_raw": record.title_raw or record.title,
        "abstract": record.abstract,
        "abstract_raw": record.abstract_raw or record.abstract,
        "authors": record.authors,
        "categories": record.categories,
        "primary_category": record.primary_category,
        "published_at": as_utc(record.published_at) if record.published_at else None,
        "updated_at": as_utc(record.updated_at) if record.updated_at else None,
        "abs_url": record.abs_url,
        "pdf_url": record.pdf_url,
        "hf_url": record.hf_url,
        "code_url": record.code_url,
        "project_url": record.project_url,
        "thumbnail_url": record.thumbnail_url,
        "comment": record.comment,
        "journal_ref": record.journal_ref,
        "doi": record.doi,
        "upvotes": record.upvotes or 0,
        "num_comments": record.num_comments or 0,
        "ai_summary": record.ai_summary,
        "ai_keywords": record.ai_keywords,
        "github_stars": record.github_stars,
        "withdrawn": record.withdrawn,
        "sources": [record.source],
        "first_seen_at": now,
        "last_seen_at": now,
    }


def _rounds(records: Iterable[PaperRecord]) -> list[list[PaperRecord]]:
    """Split records so no key repeats within a round (one statement may touch a row once).

    Applying the rounds in order gives the same result as applying the records one by one.
    """
    rounds: list[list[PaperRecord]] = []
    seen: list[set[str]] = []
    for record in records:
        for index, keys in enumerate(seen):
            if record.arxiv_id not in keys:
                keys.add(record.arxiv_id)
                rounds[index].append(record)
                break
        else:
            seen.append({record.arxiv_id})
            rounds.append([record])
    return rounds


def _shape(record: PaperRecord) -> tuple[bool, bool, bool]:
    # Version 0 means "the source does not say" (Hugging Face): such a record may add a
    # paper but never replaces text a versioned source wrote.
    return (record.version > 0, record.upvotes is not None, record.num_comments is not None)


def upsert_papers(
    session: Session, records: Iterable[PaperRecord], *, batch_size: int = BATCH_SIZE
) -> UpsertCounts:
    """Insert new papers and merge later sightings into existing rows, in batches.

    Returns how many rows were inserted, changed, or left exactly as they were.
    """
    counts = UpsertCounts()
    dialect = session.get_bind().dialect.name
    for round_ in _rounds(records):
        for start in range(0, len(round_), batch_size):
            counts.add(_upsert_batch(session, dialect, round_[start : start + batch_size]))
    return counts


def _upsert_batch(session: Session, dialect: str, batch: Sequence[PaperRecord]) -> UpsertCounts:
    keys = {record.arxiv_id for record in batch}
    now = utcnow()
    inserted: set[str] = set()
    updated: set[str] = set()
    groups: dict[tuple[bool, bool, bool], list[PaperRecord]] = {}
    for record in batch:
        groups.setdefault(_shape(record), []).append(record)
    for (version_known, upvotes, comments), group in groups.items():
        sets = _set_clauses(
            dialect, version_known=version_known, upvotes=upvotes, comments=comments
        )
        rows = [_row(record, now) for record in group]
        if dialect == "postgresql":
            # xmax = 0 marks a freshly inserted row: no separate look-up of existing keys.
            for arxiv_id, was_inserted in _execute_pg(session, sets, rows):
                (inserted if was_inserted else updated).add(arxiv_id)
        else:
            group_keys = [row["arxiv_id"] for row in rows]
            existing = set(
                session.scalars(select(Paper.arxiv_id).where(Paper.arxiv_id.in_(group_keys)))
            )
            for arxiv_id in _execute_generic(session, dialect, sets, rows):
                (updated if arxiv_id in existing else inserted).add(arxiv_id)
    # Keep ORM objects already loaded in this session from showing stale values.
    session.expire_all()
    return UpsertCounts(
        new=len(inserted), updated=len(updated), unchanged=len(keys - inserted - updated)
    )


def _execute_generic(
    session: Session, dialect: str, sets: dict[str, str], rows: list[dict[str, Any]]
) -> list[str]:
    """Run the upsert as an executemany (SQLAlchemy batches it into multi-row VALUES)."""
    base = postgresql.insert(_TABLE) if dialect == "postgresql" else sqlite.insert(_TABLE)
    set_: dict[str, Any] = {name: literal_column(expr) for name, expr in sets.items()}
    set_["last_seen_at"] = base.excluded.last_seen_at
    stmt = base.on_conflict_do_update(
        index_elements=["arxiv_id"], set_=set_, where=text(_changed(dialect, sets))
    ).returning(_TABLE.c.arxiv_id)
    return list(session.connection().execute(stmt, rows).scalars())


def _execute_pg(
    session: Session, sets: dict[str, str], rows: list[dict[str, Any]]
) -> list[tuple[str, bool]]:
    """Send the whole batch as one JSON parameter, unpacked server-side into table rows.

    Thousands of bind parameters cost more in client-side query handling than the
    database spends on the rows; json_populate_recordset turns one parameter into typed
    rows of the papers table, so a 500-row batch is one short statement.
    """
    # Only the columns we send: the others (id, embedding, ...) take their server default.
    columns = ", ".join(rows[0])
    assignments = ", ".join(f"{name} = {expr}" for name, expr in sets.items())
    sql = (
        f"INSERT INTO papers ({columns}) "
        f"SELECT {columns} FROM json_populate_recordset(CAST(NULL AS papers), CAST(:rows AS json)) "
        f"ON CONFLICT (arxiv_id) DO UPDATE SET {assignments}, "
        "last_seen_at = excluded.last_seen_at "
        f"WHERE {_changed('postgresql', sets)} "
        "RETURNING arxiv_id, (xmax = 0) AS inserted"
    )
    payload = json.dumps(rows, default=_json_default)
    result = session.connection().execute(text(sql), {"rows": payload})
    return [(arxiv_id, bool(was_inserted)) for arxiv_id, was_inserted in result]


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
