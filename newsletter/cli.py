"""The `newsletter` command: operators' and scripts' way into the service."""

from __future__ import annotations

import contextlib
import sys

import click

from newsletter.cliutil import friendly_errors, ready_database
from newsletter.config import ConfigError, get_settings
from newsletter.delivery import commands as delivery_commands
from newsletter.ingest import commands as ingest_commands
from newsletter.logging_setup import json_logs_if_asked
from newsletter.ranking import commands as ranking_commands
from newsletter.render import commands as render_commands
from newsletter.subscriptions import commands as subscription_commands
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
    subscription_commands.subscribers,
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
