"""SES through moto behind the fault-injecting proxy, configured for this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsletter import jobs
from newsletter.config import get_settings
from tests.sesproxy import SES_ENV, SesStack, reset, ses_stack


@pytest.fixture(scope="session")
def ses_server() -> Iterator[SesStack]:
    with ses_stack() as stack:
        yield stack


@pytest.fixture
def ses(ses_server: SesStack, monkeypatch: pytest.MonkeyPatch) -> SesStack:
    """An empty moto and a healed proxy; this process sends through them."""
    reset(ses_server)
    for name, value in SES_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEWSLETTER_SES_ENDPOINT_URL", ses_server.url)
    monkeypatch.setenv("NEWSLETTER_SEND_ON_QUIET_DAYS", "true")
    get_settings.cache_clear()
    jobs._sender = None
    jobs._limiter = None
    return ses_server
