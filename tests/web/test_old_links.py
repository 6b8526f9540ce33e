"""What the holder of an old or unconfirmed link can do: stop mail, and nothing more."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from newsletter.models import SubscriberStatus
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import link_in, make_subscriber, outbox_messages, reload
from tests.web.conftest import csrf_of


def move_address(client: TestClient, subscriber_id: int, outbox: Path, new: str) -> None:
    path = f"/preferences/{make_token('preferences', subscriber_id, 0)}"
    page = client.get(path)
    client.post(f"{path}/email", data={"new_email": new, "csrf_token": csrf_of(page.text)})
    [message] = outbox_messages(outbox, new)
    confirm = link_in(message, "change-email")
    client.post(confirm, data={"csrf_token": csrf_of(client.get(confirm).text)})
    assert reload(subscriber_id).email == new


def test_an_old_unsubscribe_link_after_an_address_change_shows_no_address_or_preferences(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    old_unsubscribe = f"/unsubscribe/{make_token('unsubscribe', subscriber.id, 0)}"
    move_address(client, subscriber.id, isolated_settings, "new@example.org")
    page = client.get(old_unsubscribe)
    assert page.status_code == 200
    assert "new@example.org" not in page.text
    assert "/preferences/" not in page.text
    assert ">Unsubscribe</button>" in page.text
    # It still stops mail (RFC 8058), and the answer names no address either.
    done = client.post(old_unsubscribe, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200
    assert "new@example.org" not in done.text
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED


def test_an_old_unsubscribe_link_after_leaving_and_coming_back_shows_nothing(
    client: TestClient,
):
    subscriber = make_subscriber("reader@example.org")
    old_unsubscribe = f"/unsubscribe/{make_token('unsubscribe', subscriber.id, 0)}"
    client.post(old_unsubscribe, data={"List-Unsubscribe": "One-Click"})
    # Signed up and confirmed again: generation 1 is current now.
    current = f"/unsubscribe/{make_token('unsubscribe', subscriber.id, 1)}"
    from newsletter.db import session_scope
    from newsletter.models import Subscriber

    with session_scope() as session:
        session.get_one(Subscriber, subscriber.id).status = SubscriberStatus.ACTIVE
    old_page = client.get(old_unsubscribe)
    assert "reader@example.org" not in old_page.text and "/preferences/" not in old_page.text
    current_page = client.get(current)
    assert "reader@example.org" in current_page.text and "/preferences/" in current_page.text


def test_a_used_unsubscribe_link_does_not_name_the_address_when_opened_again(
    client: TestClient,
):
    subscriber = make_subscriber("reader@example.org")
    link = f"/unsubscribe/{make_token('unsubscribe', subscriber.id, 0)}"
    client.post(link, data={"List-Unsubscribe": "One-Click"})
    again = client.get(link)
    assert "You&#39;re unsubscribed" in again.text
    assert "reader@example.org" not in again.text


def test_the_confirm_your_new_address_email_carries_no_token_of_the_subscriber(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    path = f"/preferences/{make_token('preferences', subscriber.id, 0)}"
    page = client.get(path)
    client.post(
        f"{path}/email", data={"new_email": "new@example.org", "csrf_token": csrf_of(page.text)}
    )
    [message] = outbox_messages(isolated_settings, "new@example.org")
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    raw = message.as_string()
    assert "/unsubscribe/" not in raw and "/preferences/" not in raw


def test_the_change_form_throttles_a_taken_address_like_a_free_one(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    make_subscriber("taken@example.org")
    path = f"/preferences/{make_token('preferences', subscriber.id, 0)}"

    def ask(address: str) -> str:
        page = client.get(path)
        response = client.post(
            f"{path}/email",
            data={"new_email": address, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303
        return str(response.headers["location"])

    # The taken address answers as a free one would, and uses up the slot the same way:
    # right after it, a free address is not mailed either.
    assert ask("taken@example.org") == ask("free@example.org")
    assert outbox_messages(isolated_settings) == []
    with time_machine.travel(utcnow() + timedelta(minutes=11)):
        ask("free@example.org")
        assert len(outbox_messages(isolated_settings, "free@example.org")) == 1


def forged_token(purpose: str, payload: object) -> str:
    serializer = URLSafeTimedSerializer("test-secret-key", salt=f"newsletter.{purpose}")
    return str(serializer.dumps(payload))


@pytest.mark.parametrize(
    "payload",
    [
        ["abc", 0, ""],
        [10**30, 0, ""],
        [1, 10**30, ""],
        [1, 0, 5],
        [True, 0, ""],
        [1, 0],
        {"a": 1},
        7,
    ],
)
@pytest.mark.parametrize(
    ("method", "route", "purpose"),
    [
        ("get", "/unsubscribe/{}", "unsubscribe"),
        ("post", "/unsubscribe/{}", "unsubscribe"),
        ("get", "/preferences/{}", "preferences"),
        ("get", "/confirm/{}", "confirm"),
        ("get", "/change-email/{}", "email"),
        ("get", "/digest/{}", "view"),
        ("get", "/c/{}", "click"),
    ],
)
def test_a_signed_token_of_the_wrong_shape_is_a_friendly_400(
    client: TestClient, payload: object, method: str, route: str, purpose: str
):
    make_subscriber()
    url = route.format(forged_token(purpose, payload))
    data = {"List-Unsubscribe": "One-Click"} if method == "post" else None
    response = client.request(method.upper(), url, data=data)
    assert response.status_code == 400
    if method == "get":
        assert "This link" in response.text
