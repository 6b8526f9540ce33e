"""Aware-UTC time helpers: one clock for the whole service, easy to freeze in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (SQLite returns them) as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def day_label(day: date) -> str:
    """Write a day the one way every email and page does: "Tue 1 Dec 2026".

    Unambiguous in every locale (no 01/12 against 12/01), short enough for a subject.
    """
    return f"{day:%a} {day.day} {day:%b %Y}"


def moment_label(when: datetime, zone: str) -> str:
    """A local time with its day and zone: "Tue 1 Dec 2026, 07:00 (Europe/London)"."""
    return f"{day_label(when.date())}, {when:%H:%M} ({zone})"
