"""`newsletter subscribers ...`: add, list, import and export readers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from newsletter.cliutil import friendly_errors, ready_database
from newsletter.config import MAX_PAPERS, get_settings


@click.group()
def subscribers() -> None:
    """Add, list, import and export subscribers."""


@subscribers.command("add")
@click.argument("email")
@click.option("--keyword", "keywords", multiple=True, help="A keyword or phrase (repeatable).")
@click.option("--category", "categories", multiple=True, help="An arXiv category, e.g. cs.LG.")
@click.option("--description", default="", help="What you want to read about, in words.")
@click.option("--seed-paper", "seed_papers", multiple=True, help="An arXiv id you liked.")
@click.option("--timezone", default=None, help="IANA timezone, e.g. Europe/Berlin.")
@click.option("--hour", type=int, default=None, help="Local hour to send (0-23).")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default="daily")
@click.option("--weekday", type=click.IntRange(0, 6), default=0, help="0=Monday, for weekly.")
@click.option("--max-papers", type=click.IntRange(1, MAX_PAPERS), default=None)
@click.option("--format", "fmt", type=click.Choice(["html", "text"]), default="html")
@click.option("--confirmed", is_flag=True, help="Skip double opt-in (the address is known good).")
@friendly_errors
def subscribers_add(
    email: str,
    keywords: tuple[str, ...],
    categories: tuple[str, ...],
    description: str,
    seed_papers: tuple[str, ...],
    timezone: str | None,
    hour: int | None,
    frequency: str,
    weekday: int,
    max_papers: int | None,
    fmt: str,
    confirmed: bool,
) -> None:
    """Add a subscriber (pending until confirmed, unless --confirmed)."""
    from newsletter.db import session_scope
    from newsletter.subscriptions.service import Preferences, add_subscriber

    settings = get_settings()
    prefs = Preferences(
        keywords=keywords,
        categories=categories,
        description=description,
        seed_papers=seed_papers,
        timezone=timezone or settings.defaults.timezone,
        send_hour=settings.defaults.send_hour if hour is None else hour,
        frequency=frequency,
        weekday=weekday,
        max_papers=max_papers or settings.defaults.max_papers,
        format=fmt,
    ).validated()  # refuse bad input before touching the database
    ready_database()
    with session_scope() as session:
        subscriber = add_subscriber(session, email, prefs, confirmed=confirmed)
        click.echo(f"added {subscriber.email} ({subscriber.status}), id {subscriber.id}")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--status", default=None, help="Only this status (active, pending, ...).")
@friendly_errors
def subscribers_list(as_json: bool, status: str | None) -> None:
    """List subscribers with their schedule and interests."""
    from newsletter.db import session_scope
    from newsletter.models import Subscriber
    from newsletter.subscriptions.service import preferences_of

    ready_database()
    with session_scope() as session:
        query = select(Subscriber).order_by(Subscriber.id)
        if status:
            query = query.where(Subscriber.status == status)
        rows: list[dict[str, Any]] = []
        for s in session.scalars(query):
            prefs = preferences_of(s)
            rows.append(
                {
                    "id": s.id,
                    "email": s.email,
                    "status": s.status,
                    "timezone": s.timezone,
                    "hour": s.send_hour,
                    "frequency": s.frequency,
                    "weekday": s.weekday,
                    "max_papers": s.max_papers,
                    "format": s.format,
                    "keywords": list(prefs.keywords),
                    "categories": list(prefs.categories),
                    "description": prefs.description,
                    "seed_papers": list(prefs.seed_papers),
                    "created_at": s.created_at.isoformat(),
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        interests = ", ".join(row["keywords"] + row["categories"]) or "-"
        click.echo(
            f"{row['id']:>5}  {row['email']:<40} {row['status']:<12} "
            f"{row['frequency']} {row['hour']:02d}:00 {row['timezone']}  {interests}"
        )


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="The list opted in already: no confirmation email.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def subscribers_import(file: Path, confirmed: bool, dry_run: bool, as_json: bool) -> None:
    """Import a CSV list (ours, listmonk's or Substack's export; told by the header).

    Columns: email, and optionally keywords and categories (separated by ";"),
    description, timezone, hour, frequency (and the rest of `subscribers export`).
    Without --confirmed new readers are pending and get the confirmation email; no
    digest reaches them before they confirm. Addresses already subscribed are left as
    they are, so importing a file twice changes nothing.
    """
    from newsletter.subscriptions.importing import import_subscribers

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text; save the CSV as UTF-8") from None
    ready_database()
    total = max(text.count("\n") - 1, 1)
    # The bar shows only on a terminal (click hides it when stderr is a pipe or file).
    with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
        done = 0

        def advance(rows: int) -> None:
            nonlocal done
            bar.update(rows - done)
            done = rows

        report = import_subscribers(
            text.splitlines(keepends=True),
            confirmed=confirmed,
            dry_run=dry_run,
            progress=advance,
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for problem in report.problems:
            click.echo(
                f"line {problem.line}: {problem.email or '(no address)'}: {problem.reason}",
                err=True,
            )
        verb = "would import" if dry_run else "imported"
        click.echo(
            f"{report.format} list, {report.rows} rows: {verb} {report.imported}, "
            f"{report.unchanged} already subscribed (unchanged), {report.skipped} stopped "
            f"in the source list (skipped), {len(report.problems)} refused; "
            f"{report.confirmations} confirmation emails queued"
        )
    if report.problems:
        raise click.ClickException(
            f"{len(report.problems)} rows refused (listed above); the others were "
            + ("checked" if dry_run else "imported")
        )


@subscribers.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--status", default=None, help="Only this status (active, pending, ...).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@friendly_errors
def subscribers_export(fmt: str, status: str | None, output: Path | None) -> None:
    """Export every subscriber with all that importing elsewhere needs (CSV or JSON)."""
    from newsletter.subscriptions import exporting

    ready_database()
    chunks = exporting.csv_lines(status) if fmt == "csv" else exporting.json_lines(status)
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
    click.echo(f"wrote {output}", err=True)
