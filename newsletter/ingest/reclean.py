"""Re-normalise stored titles and abstracts from their raw text, after the cleaner changed.

Every paper keeps the text its source gave (`title_raw`, `abstract_raw`), so a fix to
`clean_prose` can repair papers stored before it without fetching anything. Work goes in
batches by primary key, each committed on its own: an interrupted run keeps what it did
and a second run finishes the rest (an already clean paper is left untouched).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Table, and_, bindparam, func, select, update

from newsletter.db import session_scope
from newsletter.ingest.normalise import clean_prose
from newsletter.models import Paper

BATCH_SIZE = 500
EXAMPLES = 20  # changed papers named in the report; the count covers the rest

_TABLE: Table = Paper.__table__  # type: ignore[assignment]


@dataclass
class RecleanCounts:
    """What a run found: how many papers were read, changed, and could not be re-cleaned."""

    checked: int = 0
    titles: int = 0
    abstracts: int = 0
    changed: int = 0
    # No raw text stored (rows written by hand or before raw text was kept): left as is.
    without_raw: int = 0
    examples: list[str] = field(default_factory=list)


def count_papers(url: str | None = None) -> int:
    """Return how many papers a run will read (the length of its progress bar)."""
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(Paper)) or 0)


def reclean_papers(
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    url: str | None = None,
) -> RecleanCounts:
    """Re-clean every stored paper's title and abstract from its raw text.

    A changed text drops the paper's embedding (it described the old text), as a new
    version does on ingest. With `dry_run` nothing is written. `progress` is called with
    the number of papers read after each batch.
    """
    counts = RecleanCounts()
    last_id = 0
    while True:
        with session_scope(url) as session:
            rows = session.execute(
                select(
                    Paper.id,
                    Paper.arxiv_id,
                    Paper.title,
                    Paper.title_raw,
                    Paper.abstract,
                    Paper.abstract_raw,
                    Paper.last_seen_at,
                )
                .where(Paper.id > last_id)
                .order_by(Paper.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return counts
            last_id = rows[-1].id
            changes = []
            for row in rows:
                counts.checked += 1
                if not row.title_raw.strip() and not row.abstract_raw.strip():
                    counts.without_raw += 1
                    continue
                # A missing raw half keeps its stored text rather than becoming empty.
                title = clean_prose(row.title_raw) if row.title_raw.strip() else row.title
                abstract = (
                    clean_prose(row.abstract_raw) if row.abstract_raw.strip() else row.abstract
                )
                fields = [
                    name
                    for name, new, old in (
                        ("title", title, row.title),
                        ("abstract", abstract, row.abstract),
                    )
                    if new != old
                ]
                if not fields:
                    continue
                counts.changed += 1
                counts.titles += "title" in fields
                counts.abstracts += "abstract" in fields
                if len(counts.examples) < EXAMPLES:
                    counts.examples.append(f"{row.arxiv_id} ({', '.join(fields)})")
                changes.append(
                    {
                        "b_id": row.id,
                        "b_title_raw": row.title_raw,
                        "b_abstract_raw": row.abstract_raw,
                        "b_title": title,
                        "b_abstract": abstract,
                        # Not a sighting: keep the time a source last reported the paper.
                        "b_last_seen_at": row.last_seen_at,
                    }
                )
            if changes and not dry_run:
                session.connection().execute(_UPDATE, changes)
        if progress is not None:
            progress(len(rows))


# Only if the raw text is still what was read: an ingest that stored a new version in
# the meantime has already written text cleaned from that version.
_UPDATE = (
    update(_TABLE)
    .where(
        and_(
            _TABLE.c.id == bindparam("b_id"),
            _TABLE.c.title_raw == bindparam("b_title_raw"),
            _TABLE.c.abstract_raw == bindparam("b_abstract_raw"),
        )
    )
    .values(
        title=bindparam("b_title"),
        abstract=bindparam("b_abstract"),
        embedding=None,
        last_seen_at=bindparam("b_last_seen_at"),
    )
)
