"""Signup and double opt-in through the real app: pages, emails, tokens, CSRF, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from newsletter.db import session_scope
from newsletter.models import Subscriber, SubscriberStatus, Suppression
from newsletter.subscriptions.service import preferences_of
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import (
    link_in,
    make_subscriber,
    outbox_messages,
    reload,
    text_of,
)
from tests.web.conftest import SIGNUP, csrf_of


def signup(client: TestClient, **changes: object):
    page = client.get("/signup")
    return client.post(
        "/signup",
        data={**SIGNUP, **changes, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def count_subscribers() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def test_the_signup_page_offers_every_choice_and_works_without_javascript(client: TestClient):
    page = client.get("/signup")
    assert page.status_code == 200
    for name in ("email", "keywords", "categories", "description", "timezone", "hour"):
        assert f'name="{name}"' in page.text
    for name in ("frequency", "weekday", "max_papers", "format"):
        assert f'name="{name}"' in page.text
    # The default timezone is selected server-side; the script only improves on it.
    assert '<option value="UTC" selected>' in page.text
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


def test_a_signup_creates_a_pending_subscriber_and_mails_a_confirmation_link(
    client: TestClient, isolated_settings: Path
):
    response = signup(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/signup/sent"
    assert "Check your inbox" in client.get("/signup/sent").text
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.email == "ada@example.org"
        assert subscriber.status == SubscriberStatus.PENDING
        prefs = preferences_of(subscriber)
    assert set(prefs.keywords) == {"test-time adaptation", "diffusion models"}
    assert set(prefs.categories) == {"cs.LG", "cs.CV", "math.OC"}
    assert list(prefs.seed_papers) == ["1706.03762"]
    assert prefs.timezone == "Europe/Berlin" and prefs.send_hour == 7
    [message] = outbox_messages(isolated_settings, "ada@example.org")
    assert message["Subject"] == "Confirm your subscription to trending papers"
    assert link_in(message, "confirm").startswith("/confirm/")


def test_opening_the_confirmation_link_shows_a_button_and_changes_nothing(
    client: TestClient, isolated_settings: Path
):
    signup(client)
    path = link_in(outbox_messages(isolated_settings)[0], "confirm")
    for _ in range(3):  # link scanners open it, maybe more than once
        page = client.get(path)
        assert page.status_code == 200
        assert "Yes, confirm my subscription" in page.text
    with session_scope() as session:
        assert session.scalars(select(Subscriber)).one().status == SubscriberStatus.PENDING


def test_confirming_by_post_activates_and_sends_the_welcome_email(
    client: TestClient, isolated_settings: Path
):
    signup(client)
    path = link_in(outbox_messages(isolated_settings)[0], "confirm")
    page = client.get(path)
    response = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200
    assert "You&#39;re subscribed" in response.text
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.status == SubscriberStatus.ACTIVE
        assert subscriber.confirmed_at is not None
    confirm, welcome = outbox_messages(isolated_settings, "ada@example.org")
    assert confirm["Subject"] == "Confirm your subscription to trending papers"
    assert welcome["Subject"] == "Welcome to your trending-papers digest"
    assert "/preferences/" in text_of(welcome) and "/unsubscribe/" in text_of(welcome)
    # The success page links to the preferences page on this site.
    assert 'href="/preferences/' in response.text
    # Confirming again is harmless.
    again = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 200
    assert "already" in client.get(path).text


def test_a_confirmation_without_a_valid_csrf_token_is_refused(
    client: TestClient, isolated_settings: Path
):
    signup(client)
    path = link_in(outbox_messages(isolated_settings)[0], "confirm")
    client.get(path)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": make_token("confirm", 1, 0)}):
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert "Yes, confirm my subscription" in response.text  # a fresh form to try again
    with session_scope() as session:
        assert session.scalars(select(Subscriber)).one().status == SubscriberStatus.PENDING


def test_a_csrf_token_from_another_browser_does_not_work(
    client: TestClient, isolated_settings: Path
):
    signup(client)
    path = link_in(outbox_messages(isolated_settings)[0], "confirm")
    token = csrf_of(client.get(path).text)
    client.cookies.clear()
    client.get("/signup")  # this browser now holds a different cookie
    assert client.post(path, data={"csrf_token": token}).status_code == 400


def test_forged_expired_and_revoked_confirmation_links_are_refused_without_a_500(
    client: TestClient, isolated_settings: Path
):
    signup(client)
    path = link_in(outbox_messages(isolated_settings)[0], "confirm")
    token = path.rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (f"/confirm/{forged}", "/confirm/nonsense", "/confirm/" + "x" * 500):
        response = client.get(bad)
        assert response.status_code == 400
        assert "not valid" in response.text
        assert client.post(bad, data={}).status_code == 400
    with time_machine.travel(utcnow() + timedelta(days=8)):
        response = client.get(path)
        assert response.status_code == 400
        assert "expired" in response.text
    with session_scope() as session:
        session.scalars(select(Subscriber)).one().token_generation += 1
    response = client.get(path)
    assert response.status_code == 400
    assert "replaced by a newer one" in response.text


def test_bad_input_re_renders_the_form_with_messages_and_keeps_what_was_typed(
    client: TestClient,
):
    response = signup(
        client,
        email="not-an-address",
        keywords="ok keyword",
        other_categories="cats and dogs",
        hour="25",
        timezone="Mars/Olympus",
        max_papers="lots",
        description="<script>alert(1)</script>",
    )
    assert response.status_code == 400
    text = response.text
    assert "Enter a valid email address" in text
    assert "is not an arXiv category" in text
    assert "Choose an hour between 0 and 23" in text
    assert "Choose your timezone from the list" in text
    assert "Choose a number of papers from the list" in text
    # What was typed is still there, escaped.
    assert 'value="not-an-address"' in text
    assert 'value="ok keyword"' in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert(1)</script>" not in text
    assert 'aria-invalid="true"' in text
    assert count_subscribers() == 0


def test_a_form_with_no_interests_asks_for_one(client: TestClient):
    response = signup(
        client, keywords="", categories=[], other_categories="", description="", seed_papers=""
    )
    assert response.status_code == 400
    assert "Tell us what you are interested in" in response.text
    assert count_subscribers() == 0


def test_a_signup_without_csrf_token_keeps_the_input_and_stores_nothing(client: TestClient):
    client.get("/signup")
    response = client.post("/signup", data=SIGNUP, follow_redirects=False)
    assert response.status_code == 400
    assert "This form expired" in response.text
    assert 'value="ada@example.org"' in response.text
    assert count_subscribers() == 0
    # The re-rendered form carries a working token.
    retry = client.post(
        "/signup", data={**SIGNUP, "csrf_token": csrf_of(response.text)}, follow_redirects=False
    )
    assert retry.status_code == 303
    assert count_subscribers() == 1


def test_a_signup_without_cookies_is_refused_politely(client: TestClient):
    page = client.get("/signup")
    client.cookies.clear()
    response = client.post(
        "/signup", data={**SIGNUP, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 400
    assert "Allow cookies for this site" in response.text
    assert count_subscribers() == 0


def test_garbage_bodies_get_a_clear_400_not_a_500(client: TestClient):
    client.get("/signup")
    response = client.post(
        "/signup",
        content=b"--x\r\nnot multipart at all",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 400
    response = client.post("/signup", content=b"\xff\xfe", headers={"content-type": "text/plain"})
    assert response.status_code == 400


def confirm_link(client: TestClient, path: str):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_of(page.text)})


def stored_keywords() -> list[str]:
    with session_scope() as session:
        return list(preferences_of(session.scalars(select(Subscriber)).one()).keywords)


def test_signing_up_again_while_pending_changes_nothing_until_its_own_link_is_used(
    client: TestClient, isolated_settings: Path
):
    signup(client)
    first = outbox_messages(isolated_settings)[0]
    for path in isolated_settings.glob("*.eml"):
        path.unlink()
    # Straight away: same answer, no second email (the form cannot flood an inbox), and
    # the stranger's choices are not stored over the first form's.
    assert signup(client, keywords="graph neural networks").headers["location"] == "/signup/sent"
    assert outbox_messages(isolated_settings) == []
    assert stored_keywords() == ["test-time adaptation", "diffusion models"]
    with time_machine.travel(utcnow() + timedelta(minutes=11)):
        assert signup(client, keywords="graph neural networks").status_code == 303
        [again] = outbox_messages(isolated_settings)
        assert again["Subject"] == first["Subject"]
        assert count_subscribers() == 1
        assert stored_keywords() == ["test-time adaptation", "diffusion models"]
        # The second email's link applies the second form, and only when it is used.
        assert confirm_link(client, link_in(again, "confirm")).status_code == 200
    assert stored_keywords() == ["graph neural networks"]


def test_a_stranger_signing_up_an_unsubscribed_address_changes_nothing(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("ada@example.org", keywords=("kept",))
    with session_scope() as session:
        session.get_one(Subscriber, subscriber.id).status = SubscriberStatus.UNSUBSCRIBED
    assert signup(client, keywords="attacker's choice").status_code == 303
    after = reload(subscriber.id)
    assert after.status == SubscriberStatus.UNSUBSCRIBED
    assert list(preferences_of(after).keywords) == ["kept"]
    # The reader coming back through the link gets the form that sent it.
    [message] = outbox_messages(isolated_settings, "ada@example.org")
    assert confirm_link(client, link_in(message, "confirm")).status_code == 200
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    assert list(preferences_of(reload(subscriber.id)).keywords) == ["attacker's choice"]


def test_signing_up_with_an_active_address_mails_its_links_and_changes_nothing(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("ada@example.org", keywords=("kept",))
    response = signup(client, keywords="attacker's choice")
    assert response.status_code == 303
    assert response.headers["location"] == "/signup/sent"  # the same answer as for a new one
    after = reload(subscriber.id)
    assert after.status == SubscriberStatus.ACTIVE
    assert list(preferences_of(after).keywords) == ["kept"]
    [message] = outbox_messages(isolated_settings, "ada@example.org")
    assert message["Subject"] == "Welcome to your trending-papers digest"
    assert "/preferences/" in text_of(message)


def test_a_bounced_address_gets_the_same_answer_and_no_email(
    client: TestClient, isolated_settings: Path
):
    make_subscriber("ada@example.org", status=SubscriberStatus.BOUNCED)
    with session_scope() as session:
        session.add(Suppression(email="ada@example.org", reason="bounce"))
    response = signup(client)
    assert response.headers["location"] == "/signup/sent"
    assert outbox_messages(isolated_settings) == []
    assert reload(1).status == SubscriberStatus.BOUNCED


def test_email_addresses_are_normalised_so_case_cannot_make_a_duplicate(
    client: TestClient, isolated_settings: Path
):
    signup(client, email="Ada@EXAMPLE.org")
    with time_machine.travel(utcnow() + timedelta(minutes=11)):
        signup(client, email="ada@example.org")
    assert count_subscribers() == 1


def test_an_unsubscribed_person_can_come_back_through_double_opt_in(
    client: TestClient, isolated_settings: Path
):
    subscriber = make_subscriber("ada@example.org")
    with session_scope() as session:
        from newsletter.subscriptions.service import unsubscribe

        unsubscribe(session, session.get_one(Subscriber, subscriber.id))
    signup(client)
    # Nothing changes until the link is used: the form is open to anyone.
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED
    path = link_in(outbox_messages(isolated_settings)[0], "confirm")
    client.post(path, data={"csrf_token": csrf_of(client.get(path).text)})
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    with session_scope() as session:
        # The unsubscribe suppression went with the new opt-in.
        assert session.scalars(select(Suppression)).all() == []


def test_a_form_left_open_for_more_than_a_day_must_be_sent_again(client: TestClient):
    token = csrf_of(client.get("/signup").text)
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        response = client.post(
            "/signup", data={**SIGNUP, "csrf_token": token}, follow_redirects=False
        )
    assert response.status_code == 400
    assert "This form expired" in response.text
    assert 'value="ada@example.org"' in response.text
    assert count_subscribers() == 0
