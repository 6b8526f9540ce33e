"""Shared by the /admin tests: a signed-in client, and posting a form with its CSRF token."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_of

PASSWORD = "correct horse"


def basic(password: str = PASSWORD, user: str = "admin") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client of the app with the admin password set, signed in on every request."""
    monkeypatch.setenv("NEWSLETTER_ADMIN_PASSWORD", PASSWORD)
    from newsletter.config import get_settings
    from newsletter.web.app import create_app

    get_settings.cache_clear()
    with TestClient(create_app(), headers=basic()) as client:
        yield client


def post(
    client: TestClient, path: str, data: dict[str, Any], page: str = "/admin"
) -> httpx.Response:
    """Post `data` to `path` with the CSRF token of `page`, as the page's form would."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
