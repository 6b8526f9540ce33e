"""Run one ingest of one source: fetch (or read a saved file), parse, fill gaps, store, record.

Every run leaves an IngestRun row, whatever happened. A document that cannot be read
stores nothing and says why; a partly bad one stores its good entries and names the bad
ones; a network failure halfway through a paged fetch keeps the pages already read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from newsletter.config import Settings, get_settings
from newsletter.db import session_scope
from newsletter.ingest import arxiv_api, arxiv_rss, gaps, hf_daily, oai_pmh
from newsletter.ingest.conditional import load_validators, save_validators
from newsletter.ingest.http import Fetched, FetchError, HttpClient, TransientFetchError
from newsletter.ingest.normalise import MalformedDocument, PaperRecord, Parsed
from newsletter.ingest.runs import store_run
from newsletter.ingest.sample import load_sample
from newsletter.ingest.sources import SOURCES
from newsletter.ingest.store import UpsertCounts, upsert_papers
from newsletter.models import IngestRun
from newsletter.timeutil import utcnow

# An OAI backfill stores every this many records (about two ListRecords pages).
OAI_FLUSH_RECORDS = 2000

log = logging.getLogger(__name__)


class IngestInputError(ValueError):
    """The operator asked for something impossible (unknown source, unreadable file)."""


@dataclass
class Collected:
    """What a source produced before storage."""

    records: list[PaperRecord] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Something secondary went wrong (gap filling): recorded, but the run did its job.
    warnings: list[str] = field(default_factory=list)
    not_modified: bool = False
    # A timeout or 429/5xx stopped the fetch: trying again later may well succeed.
    transient: bool = False
    # Responses whose validators are saved once their content is stored.
    conditional: list[tuple[str, Fetched]] = field(default_factory=list)
    # Long runs (OAI backfills) store as they go: what was written so far.
    stored: UpsertCounts = field(default_factory=UpsertCounts)
    stored_records: int = 0

    def add(self, parsed: Parsed) -> None:
        self.records.extend(parsed.records)
        self.problems.extend(parsed.problems)

    def flush(self) -> None:
        """Store the records held so far in their own transaction and let them go.

        A backfill of weeks is tens of thousands of records: held to the end they cost
        hundreds of MB, and an error on the last page would lose them all.
        """
        if not self.records:
            return
        with session_scope() as session:
            counts = upsert_papers(session, self.records)
        self.stored.add(counts)
        self.stored_records += len(self.records)
        self.records = []


def run_ingest(
    source: str,
    *,
    categories: Sequence[str] | None = None,
    from_file: str | None = None,
    date: str | None = None,
    days: int | None = None,
    max_results: int | None = None,
    fill_gaps: bool = True,
    metadata_prefix: str = "arXivRaw",
) -> dict[str, Any]:
    """Ingest `source` once and return the run's counts as plain values."""
    settings = get_settings()
    if source not in SOURCES:
        raise IngestInputError(
            f"unknown source {source!r}; choose from {', '.join(sorted(SOURCES))}"
        )
    cats = list(categories or settings.arxiv.categories)
    day = _parse_day(date)
    data = _read_file(from_file) if from_file else None
    collected = Collected()
    try:
        if source == "sample":
            collected.records = load_sample()
        elif source == "arxiv":
            _collect_arxiv(collected, settings, cats, data, max_results)
        elif source == "arxiv-rss":
            _collect_listing(
                collected,
                settings,
                data,
                parse=arxiv_rss.parse,
                url=arxiv_rss.feed_url(settings, cats),
                fetch=lambda client, v: arxiv_rss.fetch(client, settings, cats, validators=v),
                arxiv=True,
            )
        elif source == "hf":
            _collect_listing(
                collected,
                settings,
                data,
                parse=hf_daily.parse,
                url=hf_daily.request_url(settings, day),
                fetch=lambda client, v: hf_daily.fetch(client, settings, day, validators=v),
                arxiv=False,
            )
        else:
            _collect_oai(collected, settings, cats, days, data, metadata_prefix)
    except (FetchError, MalformedDocument) as exc:
        collected.errors.append(str(exc))
        collected.transient = isinstance(exc, TransientFetchError)
    except SQLAlchemyError as exc:
        # A backfill's intermediate store failed: what was stored before stays, and
        # the final store below records the run (or raises, if the database is gone).
        collected.errors.append(f"could not store the papers: {type(exc).__name__}: {exc}")
        collected.transient = True
    if fill_gaps and data is None and SOURCES[source].fills_gaps and collected.records:
        _fill_gaps(collected, settings)
    return _store(source, collected)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise IngestInputError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise IngestInputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _collect_arxiv(
    collected: Collected,
    settings: Settings,
    categories: list[str],
    data: bytes | None,
    max_results: int | None,
) -> None:
    if data is not None:
        collected.add(arxiv_api.parse(data))
        return
    with HttpClient.for_source(settings, arxiv=True) as client:
        for _fetched, page in arxiv_api.fetch_pages(
            client, settings, categories, max_results=max_results
        ):
            collected.add(page)


def _collect_listing(
    collected: Collected,
    settings: Settings,
    data: bytes | None,
    *,
    parse: Callable[[bytes], Parsed],
    url: str,
    fetch: Callable[[HttpClient, dict[str, str]], Fetched],
    arxiv: bool,
) -> None:
    if data is not None:
        collected.add(parse(data))
        return
    with session_scope() as session:
        validators = load_validators(session, url)
    with HttpClient.for_source(settings, arxiv=arxiv) as client:
        fetched = fetch(client, validators)
    if fetched.not_modified:
        collected.not_modified = True
        return
    collected.add(parse(fetched.content))
    collected.conditional.append((url, fetched))


def _collect_oai(
    collected: Collected,
    settings: Settings,
    categories: list[str],
    days: int | None,
    data: bytes | None,
    metadata_prefix: str,
) -> None:
    if data is not None:
        collected.add(oai_pmh.parse(data))
        return
    if days is None or days < 1:
        raise IngestInputError("an OAI-PMH backfill needs --days N (N >= 1)")
    if metadata_prefix not in oai_pmh.FORMATS:
        raise IngestInputError(f"unknown OAI metadata format {metadata_prefix!r}")
    since = (utcnow() - timedelta(days=days)).date()
    with HttpClient.for_source(settings, arxiv=True) as client:
        for category in categories:
            for _fetched, page in oai_pmh.fetch_pages(
                client, settings, category, since, metadata_prefix=metadata_prefix
            ):
                collected.add(page)
                if len(collected.records) >= OAI_FLUSH_RECORDS:
                    collected.flush()


def _fill_gaps(collected: Collected, settings: Settings) -> None:
    with session_scope() as session:
        ids = gaps.ids_to_look_up(session, collected.records)
    if not ids:
        return
    try:
        with HttpClient.for_source(settings, arxiv=True) as client:
            gaps.fill_gaps(client, settings, collected.records, ids)
    except (FetchError, MalformedDocument) as exc:
        # The listing's own data is still worth storing; the next run tries again.
        collected.warnings.append(f"could not fill gaps from the arXiv API: {exc}")


def _store(source: str, collected: Collected) -> dict[str, Any]:
    error = "; ".join(collected.errors + collected.warnings) or None
    try:
        return _store_records(source, collected, error)
    except SQLAlchemyError as exc:
        # The last batch was not stored (one transaction); say so where operators look,
        # with what a long run did store in earlier batches.
        with session_scope() as session:
            session.add(
                IngestRun(
                    source=source,
                    fetched=collected.stored_records
                    + len(collected.records)
                    + len(collected.problems),
                    new=collected.stored.new,
                    updated=collected.stored.updated,
                    skipped=collected.stored.unchanged,
                    error=f"could not store the papers: {type(exc).__name__}: {exc}"[:2000],
                    problems=collected.problems[:200],
                    finished_at=utcnow(),
                )
            )
        raise


def _store_records(source: str, collected: Collected, error: str | None) -> dict[str, Any]:
    with session_scope() as session:
        run = store_run(
            session,
            source,
            collected.records,
            problems=collected.problems,
            error=error,
            stored_before=(collected.stored_records, collected.stored),
        )
        if not (collected.errors or collected.warnings):
            # Only a fully stored, complete response may make the next request
            # conditional on it (else a 304 would hide what is still missing).
            for url, fetched in collected.conditional:
                save_validators(session, url, fetched)
        result = {
            "source": source,
            "run_id": run.id,
            "fetched": run.fetched,
            "new": run.new,
            "updated": run.updated,
            "skipped": run.skipped,
            "problems": len(collected.problems),
            "bad_entries": collected.problems[:50],
            "error": run.error,
            "failed": bool(collected.errors),
            "transient": collected.transient,
            "not_modified": collected.not_modified,
        }
    log.info("ingest %s", summary(result))
    return result


def summary(result: dict[str, Any]) -> str:
    """Render a run's result as the one line the CLI prints and the logs keep."""
    line = (
        f"{result['source']}: fetched {result['fetched']}, new {result['new']}, "
        f"updated {result['updated']}, skipped {result['skipped']}"
    )
    if result.get("not_modified"):
        line += " (not modified since the last run)"
    if result.get("problems"):
        line += f", {result['problems']} bad entries"
    return line + f" (run {result['run_id']})"


def problem_lines(problems: Iterable[dict[str, str]]) -> list[str]:
    """Render per-entry problems as 'id: what is wrong' lines."""
    return [f"{p.get('id', '?')}: {p.get('error', '')}" for p in problems]
