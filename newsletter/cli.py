"""The `newsletter` command: operators' and scripts' way into the service."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click
from sqlalchemy import select

from newsletter.cliutil import friendly_errors, ready_database
from newsletter.config import MAX_PAPERS, ConfigError, get_settings
from newsletter.delivery import commands as delivery_commands
from newsletter.ingest import commands as ingest_commands
from newsletter.logging_setup import json_logs_if_asked
from newsletter.ranking import commands as ranking_commands
from newsletter.render import commands as render_commands
from newsletter.web import commands as web_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Trending-papers newsletter: ingest, rank, render and deliver personal digests."""


# --- db ---------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@friendly_errors
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the newest version."""
    from newsletter.db import upgrade

    upgrade(revision=revision)
    click.echo(f"database at {revision}: {get_settings().database_url.split('@')[-1]}")


# --- subscribers ------------------------------------------------------------------


@cli.group()
def subscribers() -> None:
    """Add and list subscribers."""


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


# --- pipeline ---------------------------------------------------------------------


@cli.command("demo")
@friendly_errors
def demo() -> None:
    """Run the whole pipeline on the bundled sample papers and demo subscribers."""
    from newsletter.demo import run_demo

    ready_database()
    run_demo(click.echo)


for command in (
    ingest_commands.ingest,
    ingest_commands.papers,
    ranking_commands.rank_command,
    ranking_commands.embed_command,
    web_commands.queues,
    web_commands.web,
    *delivery_commands.COMMANDS,
    render_commands.preview,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    # Bad settings are the command's to report (and --help works regardless).
    with contextlib.suppress(ConfigError):
        json_logs_if_asked(get_settings().log_format)
    try:
        cli(prog_name="newsletter")
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
