"""Beat runs each configured source on its own schedule with the configured categories."""

from __future__ import annotations

import pytest
from celery.schedules import crontab

from newsletter.config import ConfigError, load_settings
from tests.ingest.conftest import configure


def test_each_configured_source_gets_its_own_beat_entry(monkeypatch: pytest.MonkeyPatch):
    from workers.app import ingest_beat_entries

    configure(
        monkeypatch,
        INGEST_SOURCES="arxiv-rss,hf,oai",
        ARXIV_CATEGORIES="cs.CL,stat.ML",
        SCHEDULE_HF="5 */3 * * *",
    )
    entries = ingest_beat_entries(load_settings())
    assert set(entries) == {"ingest-arxiv-rss", "ingest-hf", "ingest-oai"}
    rss = entries["ingest-arxiv-rss"]
    assert rss["task"] == "workers.tasks.ingest_source"
    assert rss["args"] == ("arxiv-rss", {"categories": ["cs.CL", "stat.ML"]})
    assert entries["ingest-hf"]["schedule"] == crontab(minute="5", hour="*/3")
    assert entries["ingest-oai"]["args"][1]["days"] == 8


def test_the_default_schedule_ingests_the_listing_and_hugging_face_not_the_sample():
    from workers.app import make_app

    schedule = make_app().conf.beat_schedule
    sources = {e["args"][0] for name, e in schedule.items() if name.startswith("ingest-")}
    assert sources == {"arxiv-rss", "hf"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INGEST_SOURCES", "arxiv,twitter"),
        ("SCHEDULE_HF", "every hour"),
        ("ARXIV_API_URL", "ftp://x"),
        ("ARXIV_MIN_INTERVAL", "-1"),
    ],
)
def test_bad_ingest_settings_stop_start_up(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    configure(monkeypatch, **{name: value})
    with pytest.raises(ConfigError, match=f"NEWSLETTER_{name}"):
        load_settings()
