"""Export every subscriber with all a list needs elsewhere: address, status, schedule, interests.

CSV columns are the ones `newsletter subscribers import` reads (lists joined with
"; "), so an export imports back unchanged; JSON gives the same fields with real lists.
Rows are streamed in id order, a few hundred at a time, so a large list never sits in
memory whole.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Subscriber
from newsletter.subscriptions.service import preferences_of

COLUMNS = (
    "email",
    "status",
    "keywords",
    "negative_keywords",
    "categories",
    "description",
    "seed_papers",
    "timezone",
    "hour",
    "frequency",
    "weekday",
    "max_papers",
    "format",
    "created_at",
    "confirmed_at",
)
_LISTS = ("keywords", "negative_keywords", "categories", "seed_papers")


def records(status: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield one dict per subscriber (of `status`, or all), in id order."""
    with session_scope() as session:
        query = select(Subscriber).order_by(Subscriber.id).execution_options(yield_per=500)
        if status:
            query = query.where(Subscriber.status == status)
        for subscriber in session.scalars(query):
            prefs = preferences_of(subscriber)
            yield {
                "email": subscriber.email,
                "status": subscriber.status,
                "keywords": list(prefs.keywords),
                "negative_keywords": list(prefs.negative_keywords),
                "categories": list(prefs.categories),
                "description": prefs.description,
                "seed_papers": list(prefs.seed_papers),
                "timezone": subscriber.timezone,
                "hour": subscriber.send_hour,
                "frequency": subscriber.frequency,
                "weekday": subscriber.weekday,
                "max_papers": subscriber.max_papers,
                "format": subscriber.format,
                "created_at": subscriber.created_at.isoformat(),
                "confirmed_at": (
                    subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else None
                ),
            }


def csv_lines(status: str | None = None) -> Iterator[str]:
    """Yield the export as CSV text, header first, a line at a time."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records(status):
        writer.writerow({k: "; ".join(v) if k in _LISTS else v for k, v in record.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_lines(status: str | None = None) -> Iterator[str]:
    """Yield the export as one JSON array, a subscriber per line."""
    first = True
    yield "["
    for record in records(status):
        yield ("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False)
        first = False
    yield "\n]\n"
