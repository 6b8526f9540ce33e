"""The sources we ingest, by name: the one registry that settings, beat, the CLI and
the ingest service read.

Plain data with no imports of the project, so `newsletter.config` can validate
NEWSLETTER_INGEST_SOURCES against it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str
    what: str
    # Takes NEWSLETTER_ARXIV_CATEGORIES (arXiv listings and backfill).
    takes_categories: bool
    # A listing without primary categories or affiliations: look those up in the API.
    fills_gaps: bool
    # Its cron in settings.schedule (NEWSLETTER_SCHEDULE_<FIELD>).
    schedule: str
    # Extra task options when beat runs it.
    beat_options: tuple[tuple[str, object], ...] = ()


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source("arxiv-rss", "today's arXiv announcements", True, True, "arxiv_rss"),
        Source("arxiv", "newest submissions from the arXiv API", True, False, "arxiv"),
        Source("hf", "Hugging Face Daily Papers", False, True, "hf"),
        # A weekly safety net that overlaps the previous week.
        Source("oai", "OAI-PMH backfill", True, False, "oai", (("days", 8),)),
        Source("sample", "the bundled sample papers", False, False, "arxiv_rss"),
    )
}
