"""Unsubscribe: scanners' GETs change nothing; a POST or an RFC 8058 one-click does."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Subscriber, SubscriberStatus, Suppression
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.tokens import make_token
from tests.subscriptions.factories import make_subscriber, outbox_messages, reload
from tests.web.conftest import csrf_of


def path_for(subscriber_id: int, generation: int = 0) -> str:
    return f"/unsubscribe/{make_token('unsubscribe', subscriber_id, generation)}"


def test_opening_the_unsubscribe_link_shows_a_button_and_changes_nothing(client: TestClient):
    subscriber = make_subscriber()
    for _ in range(3):
        page = client.get(path_for(subscriber.id))
        assert page.status_code == 200
        assert ">Unsubscribe</button>" in page.text
        assert "switch to a weekly digest" in page.text
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE


def test_the_button_unsubscribes_suppresses_and_says_goodbye_once(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber()
    path = path_for(subscriber.id)
    page = client.get(path)
    response = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200
    assert "You&#39;re unsubscribed" in response.text
    after = reload(subscriber.id)
    assert after.status == SubscriberStatus.UNSUBSCRIBED
    assert after.token_generation == 1  # every other link is revoked
    with session_scope() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["unsubscribe"]
    [goodbye] = outbox_messages(isolated_settings, "reader@example.org")
    assert goodbye["Subject"] == "You're unsubscribed"
    goodbye_file = next(isolated_settings.glob("*.eml"))
    goodbye_file.unlink()
    # The same link again: still fine, still unsubscribed, no second goodbye.
    again = client.get(path)
    assert again.status_code == 200
    assert "You&#39;re unsubscribed" in again.text
    assert client.post(path, data={"csrf_token": csrf_of(page.text)}).status_code == 200
    assert outbox_messages(isolated_settings) == []


def test_rfc_8058_one_click_unsubscribes_without_a_csrf_token_or_cookie(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber()
    # Exactly what a mailbox provider sends: the List-Unsubscribe URL, this body.
    url = links_for(subscriber.id, 0).unsubscribe
    path = "/" + url.split("/", 3)[3]
    response = client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED
    # Providers may repeat it; multipart bodies are allowed too.
    response = client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200


def test_a_post_without_one_click_or_csrf_changes_nothing(client: TestClient):
    subscriber = make_subscriber()
    path = path_for(subscriber.id)
    client.get(path)
    for data in ({}, {"List-Unsubscribe": "yes"}, {"csrf_token": "forged"}):
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert ">Unsubscribe</button>" in response.text
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE


def test_forged_unsubscribe_links_are_refused_for_pages_and_one_click(client: TestClient):
    subscriber = make_subscriber()
    good = path_for(subscriber.id)
    preferences_token = f"/unsubscribe/{make_token('preferences', subscriber.id, 0)}"
    for bad in (good[:-2] + "zz", "/unsubscribe/abc", preferences_token):
        assert client.get(bad).status_code == 400
        one_click = client.post(bad, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 400
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE


def test_an_old_emails_unsubscribe_link_still_works_after_links_were_revoked(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber()
    old_link = path_for(subscriber.id, 0)
    with session_scope() as session:
        # E.g. unsubscribed and came back: links of generation 0 are revoked for
        # preferences, but an unsubscribe link in an old email must keep working.
        session.get_one(Subscriber, subscriber.id).token_generation = 3
    response = client.post(old_link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED


def test_unsubscribing_a_pending_address_sends_no_goodbye(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber(status=SubscriberStatus.PENDING)
    client.post(path_for(subscriber.id), data={"List-Unsubscribe": "One-Click"})
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED
    assert outbox_messages(isolated_settings) == []


def test_a_bounced_address_stays_bounced_when_its_link_is_used(client: TestClient):
    subscriber = make_subscriber(status=SubscriberStatus.BOUNCED)
    page = client.get(path_for(subscriber.id))
    assert "You&#39;re unsubscribed" in page.text
    client.post(path_for(subscriber.id), data={"List-Unsubscribe": "One-Click"})
    assert reload(subscriber.id).status == SubscriberStatus.BOUNCED
