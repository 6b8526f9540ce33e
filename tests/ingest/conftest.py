"""Ingest fixtures: a local stand-in server and settings pointing every source at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsletter import services
from newsletter.config import get_settings
from tests.ingest.server import FixtureServer

API = "/api/query"
RSS = "/rss"
HF = "/api/daily_papers"
OAI = "/oai"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixtureServer]:
    """Start the stand-in server and point every source URL at it (no delays, no waits)."""
    srv = FixtureServer().start()
    monkeypatch.setenv("NEWSLETTER_ARXIV_API_URL", srv.url + API)
    monkeypatch.setenv("NEWSLETTER_ARXIV_RSS_URL", srv.url + RSS)
    monkeypatch.setenv("NEWSLETTER_HF_API_URL", srv.url + HF)
    monkeypatch.setenv("NEWSLETTER_OAI_URL", srv.url + OAI)
    monkeypatch.setenv("NEWSLETTER_ARXIV_MIN_INTERVAL", "0")
    monkeypatch.setenv("NEWSLETTER_HTTP_BACKOFF", "0")
    monkeypatch.setenv("NEWSLETTER_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("NEWSLETTER_ARXIV_CATEGORIES", "cs.LG,cs.AI")
    services.reset()
    yield srv
    srv.stop()


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Set NEWSLETTER_* variables for this test and make the settings re-read them."""
    for name, value in env.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    get_settings.cache_clear()
