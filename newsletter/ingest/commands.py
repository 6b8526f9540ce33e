"""`newsletter ingest ...` and `newsletter papers`: run a source by hand, list what is stored.

The forms are a contract other tools rely on: `ingest arxiv|arxiv-rss [--category C ...]
[--from-file PATH]`, `ingest hf [--date YYYY-MM-DD] [--from-file PATH]`, `ingest sample`,
`ingest oai --category C --days N`, `papers --json [--since DATE]`, `papers reclean
[--dry-run]`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Any

import click
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from newsletter.cliutil import friendly_errors, ready_database
from newsletter.models import Paper
from newsletter.timeutil import as_utc


def _run(source: str, **options: Any) -> None:
    from newsletter.ingest.service import problem_lines, run_ingest, summary

    ready_database()
    result = run_ingest(source, **options)
    click.echo(summary(result))
    for line in problem_lines(result.get("bad_entries", [])):
        click.echo(f"  skipped {line}", err=True)
    if result["failed"]:
        raise click.ClickException(str(result["error"]))


_category = click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="C",
    help="An arXiv category, e.g. cs.LG (repeatable; default: NEWSLETTER_ARXIV_CATEGORIES).",
)
_from_file = click.option(
    "--from-file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="PATH",
    help="Read a saved response instead of the network (replay; no API look-ups either).",
)


@click.group("ingest")
def ingest() -> None:
    """Fetch papers from a source now and store them (every run is recorded)."""


@ingest.command("arxiv")
@_category
@_from_file
@click.option("--max-results", type=click.IntRange(1, 30000), default=None, help="Stop after N.")
@friendly_errors
def ingest_arxiv(
    categories: tuple[str, ...], from_file: str | None, max_results: int | None
) -> None:
    """The newest submissions of the categories, from the arXiv API (paged, rate-limited)."""
    _run("arxiv", categories=list(categories), from_file=from_file, max_results=max_results)


@ingest.command("arxiv-rss")
@_category
@_from_file
@click.option("--no-fill", is_flag=True, help="Do not look missing fields up in the arXiv API.")
@friendly_errors
def ingest_arxiv_rss(categories: tuple[str, ...], from_file: str | None, no_fill: bool) -> None:
    """Today's announcements of the categories, from arXiv's listing feed."""
    _run("arxiv-rss", categories=list(categories), from_file=from_file, fill_gaps=not no_fill)


@ingest.command("hf")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="Default: the latest.")
@_from_file
@click.option("--no-fill", is_flag=True, help="Do not look missing fields up in the arXiv API.")
@friendly_errors
def ingest_hf(day: str | None, from_file: str | None, no_fill: bool) -> None:
    """One day of Hugging Face Daily Papers: upvotes, comments, code and project links."""
    _run("hf", date=day, from_file=from_file, fill_gaps=not no_fill)


@ingest.command("sample")
@friendly_errors
def ingest_sample() -> None:
    """The bundled sample papers (for the demo and trying things out)."""
    _run("sample")


@ingest.command("oai")
@click.option("--category", "categories", multiple=True, required=True, metavar="C")
@click.option("--days", type=click.IntRange(1, 3650), required=True, help="How far back.")
@click.option(
    "--format",
    "metadata_prefix",
    type=click.Choice(["arXivRaw", "arXiv"]),
    default="arXivRaw",
    show_default=True,
)
@_from_file
@friendly_errors
def ingest_oai(
    categories: tuple[str, ...], days: int, metadata_prefix: str, from_file: str | None
) -> None:
    """Backfill the last N days of the categories through OAI-PMH."""
    _run(
        "oai",
        categories=list(categories),
        days=days,
        metadata_prefix=metadata_prefix,
        from_file=from_file,
    )


def paper_json(paper: Paper) -> dict[str, Any]:
    """Return the stable JSON shape of a paper (other tools read these keys)."""

    def iso(value: datetime | None) -> str | None:
        return as_utc(value).isoformat() if value else None

    return {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": [a.get("name") for a in paper.authors if isinstance(a, dict)],
        "affiliations": [a.get("affiliation") for a in paper.authors if isinstance(a, dict)],
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "published_at": iso(paper.published_at),
        "updated_at": iso(paper.updated_at),
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
        "hf_url": paper.hf_url,
        "code_url": paper.code_url,
        "project_url": paper.project_url,
        "thumbnail_url": paper.thumbnail_url,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "github_stars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords or []),
        "withdrawn": paper.withdrawn,
        "sources": list(paper.sources),
        "first_seen_at": iso(paper.first_seen_at),
    }


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise click.BadParameter(f"not a date: {value!r}", param_hint="--since") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("papers", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only papers published or first seen on/after DATE (YYYY-MM-DD or ISO 8601).",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most N papers.")
@click.pass_context
@friendly_errors
def papers(ctx: click.Context, as_json: bool, since: str | None, limit: int | None) -> None:
    """List stored papers, newest first (`papers reclean` re-cleans their text)."""
    from newsletter.db import session_scope

    if ctx.invoked_subcommand is not None:
        return
    since_at = _since(since)
    ready_database()
    with session_scope() as session:
        query = select(Paper).order_by(Paper.published_at.desc().nulls_last(), Paper.arxiv_id)
        if since_at is not None:
            query = query.where(
                or_(Paper.published_at >= since_at, Paper.first_seen_at >= since_at)
            )
        if limit:
            query = query.limit(limit)
        rows = [paper_json(p) for p in session.scalars(query)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        flag = " [withdrawn]" if row["withdrawn"] else ""
        click.echo(
            f"{row['arxiv_id']}v{row['version']}  {row['primary_category'] or '-':<10} "
            f"{row['upvotes']:>4}  {row['title']}{flag}"
        )


@papers.command("reclean")
@click.option("--dry-run", is_flag=True, help="Count and name what would change; write nothing.")
@click.option(
    "--batch-size", type=click.IntRange(1, 10000), default=500, show_default=True, hidden=True
)
@friendly_errors
def papers_reclean(dry_run: bool, batch_size: int) -> None:
    """Re-clean every stored title and abstract from its raw text; report how many changed."""
    from newsletter.ingest.reclean import count_papers, reclean_papers

    ready_database()
    try:
        if sys.stderr.isatty():
            # On stderr, so stdout stays the report a script can read.
            with click.progressbar(length=count_papers(), label="papers", file=sys.stderr) as bar:
                counts = reclean_papers(dry_run=dry_run, batch_size=batch_size, progress=bar.update)
        else:
            counts = reclean_papers(dry_run=dry_run, batch_size=batch_size)
    except SQLAlchemyError as exc:
        # Batches already done stay done; a second run picks up the rest.
        raise click.ClickException(
            f"reclean stopped: {_first_line(getattr(exc, 'orig', None) or exc)}. "
            "Papers already re-cleaned are kept; run it again to finish."
        ) from None
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"reclean: {counts.checked} papers checked, {verb} {counts.changed} "
        f"(titles: {counts.titles}, abstracts: {counts.abstracts})"
        + (
            f", {counts.without_raw} without raw text left as they were"
            if counts.without_raw
            else ""
        )
    )
    for example in counts.examples:
        click.echo(f"  {example}")
    if counts.changed > len(counts.examples):
        click.echo(f"  ... and {counts.changed - len(counts.examples)} more")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
