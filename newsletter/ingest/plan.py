"""Which sources the beat runs, when, and with what options: plain data from settings.

workers/app.py turns each entry into a Celery crontab; keeping the choice here means it
is tested without Celery and shown the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from newsletter.config import Settings
from newsletter.ingest.sources import SOURCES


@dataclass(frozen=True)
class ScheduledIngest:
    name: str
    source: str
    # Five cron fields, UTC: minute hour day-of-month month day-of-week.
    cron: str
    options: dict[str, Any] = field(default_factory=dict)

    def crontab_kwargs(self) -> dict[str, str]:
        minute, hour, day_of_month, month_of_year, day_of_week = self.cron.split()
        return {
            "minute": minute,
            "hour": hour,
            "day_of_month": day_of_month,
            "month_of_year": month_of_year,
            "day_of_week": day_of_week,
        }


def scheduled_ingests(settings: Settings) -> list[ScheduledIngest]:
    """Return one entry per configured source (NEWSLETTER_INGEST_SOURCES)."""
    entries = []
    for name in dict.fromkeys(settings.ingest_sources):
        source = SOURCES[name]
        options: dict[str, Any] = dict(source.beat_options)
        if source.takes_categories:
            options["categories"] = list(settings.arxiv.categories)
        cron = getattr(settings.schedule, source.schedule)
        entries.append(ScheduledIngest(f"ingest-{name}", name, cron, options))
    return entries
