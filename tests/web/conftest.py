"""A TestClient over the real app, on the per-test SQLite database (or PostgreSQL via db_url)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from newsletter.web.app import create_app
from tests.subscriptions.conftest import premigrated_sqlite, sqlite_template

__all__ = ["premigrated_sqlite", "sqlite_template"]  # fixtures shared with subscriptions

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


SIGNUP = {
    "email": "ada@example.org",
    "keywords": "test-time adaptation, diffusion models",
    "categories": ["cs.LG", "cs.CV"],
    "other_categories": "math.OC",
    "description": "out-of-distribution detection for vision models",
    "seed_papers": "https://arxiv.org/abs/1706.03762v7",
    "exclude": "",
    "timezone": "Europe/Berlin",
    "hour": "7",
    "frequency": "daily",
    "weekday": "0",
    "max_papers": "10",
    "format": "html",
}
