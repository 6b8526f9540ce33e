"""IngestRun bookkeeping: every run leaves a row an operator can read."""

from __future__ import annotations

from sqlalchemy.orm import Session

from newsletter.ingest.normalise import PaperRecord
from newsletter.ingest.store import UpsertCounts, upsert_papers
from newsletter.models import IngestRun
from newsletter.timeutil import utcnow

MAX_PROBLEMS_KEPT = 200  # a wholly broken feed must not write a megabyte of JSON per run


def store_run(
    session: Session,
    source: str,
    records: list[PaperRecord],
    *,
    problems: list[dict[str, str]] | None = None,
    error: str | None = None,
    stored_before: tuple[int, UpsertCounts] | None = None,
) -> IngestRun:
    """Upsert `records` and record the run's counts, problems and error in one transaction.

    `stored_before` is (records, their counts) a long run already stored in earlier
    transactions (see Collected.flush). Per-entry problems also produce a one-line
    error naming the first bad entry, so the run list shows at a glance that something
    was skipped.
    """
    problems = problems or []
    already, counts = stored_before or (0, UpsertCounts())
    run = IngestRun(source=source, fetched=already + len(records) + len(problems))
    counts = UpsertCounts(counts.new, counts.updated, counts.unchanged)
    counts.add(upsert_papers(session, records))
    run.new, run.updated = counts.new, counts.updated
    run.skipped = counts.unchanged + len(problems)
    run.problems = problems[:MAX_PROBLEMS_KEPT]
    if problems and error is None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        error = f"{len(problems)} entries skipped: {first['id']}: {first['error']}{more}"
    run.error = error
    run.finished_at = utcnow()
    session.add(run)
    session.flush()
    return run
