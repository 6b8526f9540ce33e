"""IngestRun bookkeeping: every run leaves a row an operator can read."""

from __future__ import annotations

from sqlalchemy.orm import Session

from newsletter.ingest.normalise import PaperRecord
from newsletter.ingest.store import upsert_papers
from newsletter.models import IngestRun
from newsletter.timeutil import utcnow


def store_run(
    session: Session,
    source: str,
    records: list[PaperRecord],
    *,
    problems: list[dict[str, str]] | None = None,
    error: str | None = None,
) -> IngestRun:
    """Upsert `records` and record the run's counts, problems and error in one transaction."""
    run = IngestRun(source=source, fetched=len(records) + len(problems or []))
    counts = upsert_papers(session, records)
    run.new, run.updated = counts.new, counts.updated
    run.skipped = counts.unchanged + len(problems or [])
    run.problems = problems or []
    run.error = error
    run.finished_at = utcnow()
    session.add(run)
    session.flush()
    return run
