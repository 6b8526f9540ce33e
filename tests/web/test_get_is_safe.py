"""Link scanners open every link: no GET on any page may change the database."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Base, SubscriberStatus
from newsletter.subscriptions.tokens import make_token
from newsletter.web.app import create_app
from tests.subscriptions.factories import make_sent_digest, make_subscriber


def snapshot() -> dict[str, list[Any]]:
    with session_scope() as session:
        return {
            table.name: sorted(map(repr, session.execute(select(table)).all()))
            for table in Base.metadata.sorted_tables
        }


def test_no_get_route_changes_anything(monkeypatch):
    monkeypatch.setenv("NEWSLETTER_ADMIN_PASSWORD", "pw")
    from newsletter.config import get_settings

    get_settings.cache_clear()
    active = make_subscriber("active@example.org")
    pending = make_subscriber("pending@example.org", status=SubscriberStatus.PENDING)
    make_sent_digest(active.id, [("2411.00001", "P")])
    urls = [
        "/",
        "/signup",
        "/signup?email=a%40example.org&seed=2411.00001",
        "/papers/2411.00001",
        "/search?q=p",
        "/archive",
        "/archive/2026-11-25",
        "/feed.atom",
        f"/feeds/{make_token('feed', active.id, 0)}.atom",
        "/signup/sent",
        "/healthz",
        "/metrics",
        f"/confirm/{make_token('confirm', pending.id, 0)}",
        f"/preferences/{make_token('preferences', active.id, 0)}",
        f"/preferences/{make_token('preferences', active.id, 0)}?saved=rating",
        f"/unsubscribe/{make_token('unsubscribe', active.id, 0)}",
        f"/unsubscribe/{make_token('unsubscribe', pending.id, 0)}",
        f"/change-email/{make_token('email', active.id, 0, 'moved@example.org')}",
    ]
    # Every GET page of this area (click and digest routes belong to other areas and
    # have their own tests), twice each, with valid links.
    app = create_app()
    before = snapshot()
    with TestClient(app) as client:
        for url in urls:
            for _ in range(2):
                assert client.get(url).status_code == 200, url
        for url in ("/admin", "/admin/overview.json"):
            assert client.get(url, auth=("admin", "pw")).status_code == 200
    assert snapshot() == before
