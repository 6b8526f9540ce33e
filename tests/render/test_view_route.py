"""GET /digest/{token}: the digest a reader was mailed, in the browser."""

from __future__ import annotations

import lxml.html
from fastapi.testclient import TestClient

from newsletter.db import session_scope
from newsletter.models import Subscriber
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.tokens import make_token
from newsletter.web.app import create_app
from tests.render.dbfactories import KEY, add_delivery, add_papers


def make_reader(count: int = 4) -> tuple[int, str]:
    with session_scope() as session:
        subscriber, _, _ = add_delivery(session, add_papers(session, count))
        return subscriber.id, links_for(subscriber.id, 0, KEY).view or ""


def test_the_view_link_shows_the_same_digest_with_every_pick(db_url):
    client = TestClient(create_app())
    _, view = make_reader(4)
    response = client.get(view.removeprefix("https://papers.test"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["referrer-policy"] == "no-referrer"
    document = lxml.html.fromstring(response.text)
    titles = [t.text_content() for t in document.xpath("//h2[@class='title']")]
    assert titles == [f"Agents that notice when the world changes, part {n}" for n in (1, 2, 3, 4)]
    assert "ada@example.org" in response.text


def test_a_forged_or_cut_link_gets_a_clear_error_page():
    client = TestClient(create_app())
    response = client.get("/digest/not-a-real-token")
    assert response.status_code == 400
    assert "This link does not work" in response.text
    assert "not valid" in response.text
    assert "Traceback" not in response.text


def test_a_revoked_link_shows_the_public_edition_instead_of_the_readers_digest(sqlite_url):
    client = TestClient(create_app())
    subscriber_id, view = make_reader(2)
    with session_scope() as session:
        session.get_one(Subscriber, subscriber_id).token_generation += 1
    response = client.get(view.removeprefix("https://papers.test"))
    assert response.status_code == 200
    assert "public version" in response.text
    assert "ada@example.org" not in response.text
    assert "part 2" in response.text  # the edition's most upvoted paper


def test_a_link_to_a_digest_never_composed_says_so(sqlite_url):
    client = TestClient(create_app())
    subscriber_id, _ = make_reader(2)
    token = make_token("view", subscriber_id, 0, "daily-2026-01-01")
    response = client.get(f"/digest/{token}")
    assert response.status_code == 404
    assert "not available" in response.text
