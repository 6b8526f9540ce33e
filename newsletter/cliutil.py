"""What every `newsletter` command shares: its error policy, a ready database, times.

Command modules (newsletter/*/commands.py) import these; newsletter.cli imports the
command modules to assemble the group. Nothing here imports a command module, so the
import graph stays one-way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from newsletter.config import ConfigError, get_settings
from newsletter.db import ensure_schema
from newsletter.subscriptions.validation import InvalidInput

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn the errors a person can fix into one line on stderr and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, InvalidInput, ValueError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def ready_database() -> None:
    """Create or migrate the schema first, so every command works on a fresh database."""
    try:
        ensure_schema()
    except OperationalError as exc:
        url = get_settings().database_url.split("@")[-1]
        raise click.ClickException(
            f"cannot reach the database ({url}): {exc.orig}. Check DATABASE_URL."
        ) from None


def parse_now(value: str | None) -> datetime | None:
    """Read a `--now` option: ISO 8601 with an offset, or None for the real time."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give a timezone, e.g. 2026-11-26T07:00:00+00:00")
    return parsed
