"""`newsletter preview`: write one reader's digest to files (HTML, text, .eml) without sending."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.cliutil import ready_database
from newsletter.config import get_settings
from newsletter.models import Delivery, Edition, EmailFormat, Frequency, Subscriber
from newsletter.ranking.readers import edition_model, rank_readers
from newsletter.render.compose import compose_digest, message_bytes, picks_of, reader_for
from newsletter.timeutil import utcnow

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


@dataclass
class Preview:
    edition_key: str
    recorded: bool  # True: the delivery's recorded picks; False: ranked just now
    subject: str
    html: str
    text: str
    raw: bytes
    shown: int
    total: int
    html_bytes: int


def find_subscriber(session: Session, email: str) -> Subscriber:
    address = email.strip().lower()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        raise click.ClickException(f"no subscriber with the address {address!r}")
    return subscriber


def find_edition(session: Session, subscriber: Subscriber, wanted: str | None) -> Edition:
    """The edition named by id or key; by default the reader's latest digest or today's."""
    if wanted:
        query = select(Edition).where(
            Edition.id == int(wanted) if wanted.isdigit() else Edition.key == wanted
        )
        edition = session.scalar(query)
        if edition is None:
            raise click.ClickException(f"no edition {wanted!r} (give an edition id or key)")
        return edition
    latest = session.scalar(
        select(Edition)
        .join(Delivery, Delivery.edition_id == Edition.id)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.papers.is_not(None))
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(1)
    )
    if latest is not None:
        return latest
    return current_edition(session, subscriber)


def current_edition(session: Session, subscriber: Subscriber) -> Edition:
    """The edition the reader is in now; an unsaved one if it has not opened yet."""
    from newsletter.editions import candidate_ids
    from newsletter.schedule import edition_window, local_slot

    now = utcnow()
    slot = local_slot(subscriber.timezone, now)
    weekly = subscriber.frequency == Frequency.WEEKLY
    key = slot.weekly_key if weekly else slot.daily_key
    edition = session.scalar(select(Edition).where(Edition.key == key))
    if edition is not None:
        return edition
    start, end = edition_window(key)
    # Not added to the session: a preview must not open editions.
    return Edition(
        key=key,
        frequency=subscriber.frequency,
        window_start=start,
        window_end=end,
        candidate_ids=candidate_ids(session, subscriber.frequency, now),
    )


def recorded_picks(
    session: Session, edition: Edition, subscriber: Subscriber
) -> list[dict[str, object]] | None:
    if edition.id is None:
        return None
    delivery = session.scalar(
        select(Delivery).where(
            Delivery.edition_id == edition.id, Delivery.subscriber_id == subscriber.id
        )
    )
    return None if delivery is None or delivery.papers is None else list(delivery.papers)


def ranked_picks(
    session: Session, edition: Edition, subscriber: Subscriber
) -> list[dict[str, object]]:
    """Rank the edition's candidates for this reader now, as the compose step would."""
    if not edition.candidate_ids:
        return []
    model = edition_model(session, edition)
    picks = rank_readers(session, model, [subscriber], utcnow())
    return [p.as_dict() for p in picks[0][: subscriber.max_papers]]


def preview_digest(session: Session, email: str, edition_wanted: str | None) -> Preview:
    """Compose `email`'s digest for an edition exactly as it would be sent, without sending."""
    subscriber = find_subscriber(session, email)
    edition = find_edition(session, subscriber, edition_wanted)
    recorded = recorded_picks(session, edition, subscriber)
    picks = picks_of(
        session, recorded if recorded is not None else ranked_picks(session, edition, subscriber)
    )
    reader = reader_for(subscriber, edition.key)
    html = subscriber.format != EmailFormat.TEXT
    composed = compose_digest(edition.key, reader, picks)
    return Preview(
        edition_key=edition.key,
        recorded=recorded is not None,
        subject=composed.subject,
        html=composed.html_str,
        text=composed.text_str,
        raw=message_bytes(composed, reader, html=html),
        shown=composed.shown,
        total=composed.total,
        html_bytes=composed.html_size,
    )


@click.command("preview")
@click.option("--subscriber", "email", required=True, help="The reader's email address.")
@click.option("--edition", default=None, help="Edition id or key (default: their latest).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the files (default: OUTBOX/previews).",
)
@click.option("--open", "open_it", is_flag=True, help="Open the HTML in a browser.")
def preview(email: str, edition: str | None, out: Path | None, open_it: bool) -> None:
    """Write a reader's digest (HTML, text and .eml) to files without sending anything."""
    from newsletter.config import ConfigError
    from newsletter.db import session_scope

    try:
        get_settings()
        ready_database()
        with session_scope() as session:
            result = preview_digest(session, email, edition)
            session.rollback()  # nothing a preview did is kept
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    folder = out or get_settings().outbox / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{result.edition_key}-{_UNSAFE.sub('_', email.strip().lower())}"
    paths = {suffix: stem.with_name(stem.name + suffix) for suffix in (".html", ".txt", ".eml")}
    paths[".html"].write_text(result.html, encoding="utf-8")
    paths[".txt"].write_text(result.text, encoding="utf-8")
    paths[".eml"].write_bytes(result.raw)
    source = "recorded picks" if result.recorded else "ranked now (no delivery recorded yet)"
    click.echo(f"edition {result.edition_key}: {result.total} papers, {source}")
    click.echo(f"subject: {result.subject}")
    if result.shown < result.total:
        click.echo(f"{result.shown} fit in the email; {result.total - result.shown} on the web")
    click.echo(f"html: {paths['.html']} ({result.html_bytes:,} bytes)")
    click.echo(f"text: {paths['.txt']}")
    click.echo(f"eml:  {paths['.eml']}")
    if open_it:
        click.launch(str(paths[".html"]))
