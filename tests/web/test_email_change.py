"""Moving a subscription to a new address: only a click in the new inbox moves it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine
from fastapi.testclient import TestClient

from newsletter.db import session_scope
from newsletter.models import Suppression
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import link_in, make_subscriber, outbox_messages, reload
from tests.web.conftest import csrf_of


def ask(client: TestClient, subscriber_id: int, new_email: str, generation: int = 0):
    path = f"/preferences/{make_token('preferences', subscriber_id, generation)}"
    token = csrf_of(client.get(path).text)
    return client.post(
        f"{path}/email",
        data={"new_email": new_email, "csrf_token": token},
        follow_redirects=False,
    )


def test_a_new_address_is_used_only_after_its_link_is_confirmed(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    response = ask(client, subscriber.id, "New@Example.org")
    assert response.status_code == 303
    assert "Check the new inbox" in client.get(response.headers["location"]).text
    assert reload(subscriber.id).email == "old@example.org"
    [message] = outbox_messages(isolated_settings, "new@example.org")
    path = link_in(message, "change-email")
    page = client.get(path)  # a scanner's GET changes nothing
    assert "Yes, use this address" in page.text
    assert reload(subscriber.id).email == "old@example.org"
    moved = client.post(path, data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert moved.status_code == 303
    after = reload(subscriber.id)
    assert after.email == "new@example.org"
    assert after.token_generation == 1  # links naming the old address are revoked
    assert "your digest now goes to this address" in client.get(moved.headers["location"]).text
    old_preferences = f"/preferences/{make_token('preferences', subscriber.id, 0)}"
    assert client.get(old_preferences).status_code == 400
    assert client.post(path, data={"csrf_token": csrf_of(page.text)}).status_code == 400


def test_a_taken_or_blocked_address_gets_the_same_answer_and_no_email(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    make_subscriber("taken@example.org")
    with session_scope() as session:
        session.add(Suppression(email="complained@example.org", reason="complaint"))
    for address in ("taken@example.org", "complained@example.org"):
        response = ask(client, subscriber.id, address)
        assert response.status_code == 303
        assert response.headers["location"].endswith("?saved=email#address")
    assert outbox_messages(isolated_settings) == []
    assert reload(subscriber.id).email == "old@example.org"


def test_bad_addresses_and_missing_csrf_are_refused_on_the_page(client: TestClient):
    subscriber = make_subscriber("old@example.org")
    response = ask(client, subscriber.id, "nope")
    assert response.status_code == 400
    assert "Enter a valid new address" in response.text and 'value="nope"' in response.text
    response = ask(client, subscriber.id, "old@example.org")
    assert response.status_code == 400
    assert "already the address" in response.text
    path = f"/preferences/{make_token('preferences', subscriber.id, 0)}/email"
    assert client.post(path, data={"new_email": "x@example.org"}).status_code == 400


def test_change_links_expire_and_die_with_the_generation(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    ask(client, subscriber.id, "new@example.org")
    path = link_in(outbox_messages(isolated_settings, "new@example.org")[0], "change-email")
    with time_machine.travel(utcnow() + timedelta(days=8)):
        assert "expired" in client.get(path).text
    forged = f"/change-email/{make_token('preferences', subscriber.id, 0)}"
    assert client.get(forged).status_code == 400
    # Someone else takes the address before the link is used.
    make_subscriber("new@example.org")
    page = client.get(path)
    response = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 400
    assert reload(subscriber.id).email == "old@example.org"
