"""Operator commands for delivery: send-due, deliveries (list / retry), sending (pause...)."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from newsletter.chain import requeue, run_due
from newsletter.cliutil import parse_now, ready_database
from newsletter.config import ConfigError
from newsletter.models import DeliveryState


@click.command("send-due")
@click.option("--now", default=None, help="Pretend it is this time (ISO 8601 with offset).")
def send_due(now: str | None) -> None:
    """Plan and run what is due (in-process on the embedded default, else via the queues)."""
    when = parse_now(now)
    ready_database()
    try:
        report = run_due(when)
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())


def _edition_id(session: Any, edition: str | None) -> int | None:
    from newsletter.models import Edition

    if edition is None:
        return None
    query = select(Edition.id).where(
        Edition.id == int(edition) if edition.isdigit() else Edition.key == edition
    )
    found = session.scalar(query)
    if found is None:
        raise click.ClickException(
            f"no edition {edition!r} (give its id or key, e.g. daily-2026-11-26)"
        )
    return int(found)


@click.group("deliveries", invoke_without_command=True)
@click.option("--edition", default=None, help="Edition id or key (e.g. daily-2026-11-26).")
@click.option(
    "--state",
    type=click.Choice([s.value for s in DeliveryState]),
    default=None,
    help="Only deliveries in this state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@click.pass_context
def deliveries(
    ctx: click.Context, edition: str | None, state: str | None, as_json: bool, limit: int
) -> None:
    """List deliveries (newest first) with their state, attempts and last error."""
    if ctx.invoked_subcommand is not None:
        return
    from newsletter.db import session_scope
    from newsletter.models import Delivery, Edition, Subscriber

    ready_database()
    with session_scope() as session:
        query = (
            select(Delivery, Edition.key, Subscriber.email)
            .join(Edition, Edition.id == Delivery.edition_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
        edition_id = _edition_id(session, edition)
        if edition_id is not None:
            query = query.where(Delivery.edition_id == edition_id)
        if state:
            query = query.where(Delivery.state == state)
        rows: list[dict[str, Any]] = [
            {
                "id": d.id,
                "edition": key,
                "email": address,
                "state": d.state,
                "attempts": d.attempts,
                "provider_message_id": d.provider_message_id,
                "last_error": d.last_error,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "updated_at": d.updated_at.isoformat(),
            }
            for d, key, address in session.execute(query)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no deliveries match")
    for row in rows:
        error = f"  {row['last_error'][:80]}" if row["last_error"] else ""
        click.echo(
            f"{row['id']:>7}  {row['edition']:<18} {row['state']:<10} "
            f"x{row['attempts']}  {row['email']}{error}"
        )


@deliveries.command("retry")
@click.option("--failed", "which", flag_value="failed", help="Retry failed deliveries.")
@click.option(
    "--uncertain",
    "which",
    flag_value="uncertain",
    help="Resend deliveries that may or may not have gone out (readers may get two).",
)
@click.option("--edition", default=None, help="Only this edition (id or key).")
def deliveries_retry(which: str | None, edition: str | None) -> None:
    """Put failed or uncertain deliveries back to pending and send them again."""
    if which is None:
        raise click.ClickException("say which: --failed or --uncertain")
    from newsletter.db import session_scope
    from newsletter.delivery import state

    ready_database()
    with session_scope() as session:
        ids = state.reopen(session, DeliveryState(which), _edition_id(session, edition))
    click.echo(f"reopened {len(ids)} {which} deliveries")
    if ids:
        click.echo(requeue(ids))


@click.group("sending")
def sending() -> None:
    """Pause, resume or inspect sending (the circuit breaker)."""


@sending.command("status")
@click.option("--json", "as_json", is_flag=True)
def sending_status(as_json: bool) -> None:
    """Say whether sending runs or is paused (and why), and what is waiting."""
    from sqlalchemy import func

    from newsletter.db import session_scope
    from newsletter.delivery import breaker
    from newsletter.models import Delivery

    ready_database()
    with session_scope() as session:
        current = breaker.read(session)
        grouped = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        counts = {str(state): int(n) for state, n in grouped}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "paused": current.is_open(),
                    "reason": current.reason if current.is_open() else None,
                    "until": current.until.isoformat() if current.until else None,
                    "deliveries": counts,
                }
            )
        )
        return
    click.echo(current.describe())
    click.echo(
        "deliveries: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none")
    )


@sending.command("pause")
@click.option("--reason", default="paused by an operator", show_default=True)
def sending_pause(reason: str) -> None:
    """Stop sending; deliveries stay pending until `newsletter sending resume`."""
    from newsletter.db import session_scope
    from newsletter.delivery import breaker

    ready_database()
    with session_scope() as session:
        breaker.pause(session, reason)
    click.echo("sending paused")


@sending.command("resume")
def sending_resume() -> None:
    """Close the breaker and send everything still pending."""
    from newsletter.operations.sending import resume

    ready_database()
    for line in resume():
        click.echo(line)


COMMANDS = [send_due, deliveries, sending]
