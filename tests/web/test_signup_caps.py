"""The signup form cannot be used to mail strangers in bulk: caps per client, mailbox, all."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from newsletter import services
from newsletter.db import session_scope
from newsletter.models import TransactionalMail
from newsletter.subscriptions.tokens import make_token
from newsletter.subscriptions.validation import mailbox_key
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import make_subscriber
from tests.web.conftest import SIGNUP, csrf_of


def queued_mails() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(TransactionalMail)) or 0)


def post_signups(client: TestClient, addresses: list[str], **headers: str) -> list[int]:
    token = csrf_of(client.get("/signup").text)  # one token, reused: as the flood did
    return [
        client.post(
            "/signup",
            data={**SIGNUP, "email": address, "csrf_token": token},
            headers=headers,
            follow_redirects=False,
        ).status_code
        for address in addresses
    ]


@pytest.fixture(params=["database", "redis"])
def counter_store(request: pytest.FixtureRequest, db_url: str) -> str:
    """Counts in the database (embedded) or in Redis (REDIS_URL set)."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return str(request.param)


def test_sixty_signups_for_strangers_from_one_client_stop_at_the_cap(
    counter_store: str, client: TestClient
):
    strangers = [f"stranger{n}@example.org" for n in range(60)]
    statuses = post_signups(client, strangers)
    assert statuses[:5] == [303] * 5
    assert set(statuses[5:]) == {429}
    assert queued_mails() == 5
    page = client.post(
        "/signup",
        data={**SIGNUP, "csrf_token": csrf_of(client.get("/signup").text)},
        follow_redirects=False,
    )
    assert page.status_code == 429
    assert "Please wait a little" in page.text and "<form" not in page.text.split("<main")[-1]
    assert 0 < int(page.headers["retry-after"]) <= 3600
    assert page.headers["content-security-policy"]


def test_plus_addresses_and_gmail_dots_of_one_mailbox_count_as_one(
    monkeypatch: pytest.MonkeyPatch, client: TestClient
):
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "1")
    services.reset()
    # Each from a different client, so only the mailbox cap (3) can stop them.
    for n, address in enumerate(["ada+a@example.org", "ada+b@example.org", "ADA@example.org"]):
        assert post_signups(client, [address], **{"X-Forwarded-For": f"192.0.2.{n}"}) == [303]
    assert post_signups(client, ["ada+d@example.org"], **{"X-Forwarded-For": "192.0.2.9"}) == [429]
    for n, address in enumerate(["a.d.a@gmail.com", "ada@googlemail.com", "a.da+x@gmail.com"]):
        assert post_signups(client, [address], **{"X-Forwarded-For": f"198.51.100.{n}"}) == [303]
    assert post_signups(client, ["ad.a@gmail.com"], **{"X-Forwarded-For": "198.51.100.9"}) == [429]


def test_the_global_cap_stops_a_flood_spread_over_many_clients(
    monkeypatch: pytest.MonkeyPatch, client: TestClient
):
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("NEWSLETTER_SIGNUP_LIMIT_GLOBAL", "4")
    services.reset()
    statuses = [
        post_signups(client, [f"p{n}@example.org"], **{"X-Forwarded-For": f"203.0.113.{n}"})[0]
        for n in range(6)
    ]
    assert statuses == [303] * 4 + [429] * 2


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(client: TestClient):
    statuses = [
        post_signups(client, [f"q{n}@example.org"], **{"X-Forwarded-For": f"203.0.113.{n}"})[0]
        for n in range(7)
    ]
    assert statuses == [303] * 5 + [429] * 2


def test_only_the_hop_our_proxy_added_is_believed(
    monkeypatch: pytest.MonkeyPatch, client: TestClient
):
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "1")
    services.reset()
    # The client forges the left part; our proxy appends the real address on the right.
    statuses = [
        post_signups(
            client, [f"r{n}@example.org"], **{"X-Forwarded-For": f"10.0.0.{n}, 192.0.2.77"}
        )[0]
        for n in range(7)
    ]
    assert statuses == [303] * 5 + [429] * 2


def test_the_cap_lifts_when_its_window_ends(client: TestClient):
    assert post_signups(client, [f"s{n}@example.org" for n in range(6)])[-1] == 429
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1)):
        assert post_signups(client, ["later@example.org"]) == [303]


def test_the_change_of_address_form_shares_the_caps(client: TestClient):
    subscriber = make_subscriber()
    path = f"/preferences/{make_token('preferences', subscriber.id, 0)}/email"
    token = csrf_of(client.get("/signup").text)
    statuses = [
        client.post(
            path,
            data={"new_email": f"t{n}@example.org", "csrf_token": token},
            follow_redirects=False,
        ).status_code
        for n in range(7)
    ]
    # The per-subscriber resend interval lets one through; the client cap stops the rest.
    assert statuses[-2:] == [429, 429]


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("Ada+News@Example.org", "ada@example.org"),
        ("a.d.a+x@gmail.com", "ada@gmail.com"),
        ("a.d.a@googlemail.com", "ada@gmail.com"),
        ("a.d.a@example.org", "a.d.a@example.org"),
    ],
)
def test_a_mailbox_key_drops_tags_and_gmail_dots(address: str, mailbox: str):
    assert mailbox_key(address) == mailbox
