"""Atom feeds: the public trending list and a reader's own digests at a signed URL."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from newsletter.db import session_scope
from newsletter.models import Paper, Subscriber
from newsletter.site.feeds import feed_url
from newsletter.subscriptions.service import unsubscribe
from newsletter.subscriptions.tokens import make_token
from tests.conftest import _reset_process_state
from tests.subscriptions.factories import make_subscriber
from tests.web.site_papers import DAY, add_edition, add_paper, add_sent_delivery


@pytest.fixture(autouse=True)
def uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SITE_CACHE_SECONDS", "0")


def parse(body: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_the_public_feed_is_valid_atom_with_stable_ids_and_updated_dates(client: TestClient):
    add_paper("2511.00001", "First <b>bold</b> & co", "We propose x.\x00 Then y.", upvotes=3)
    add_paper("2511.00002", "Second", "We show y.", upvotes=9)
    response = client.get("/feed.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = parse(response.content)
    assert [e.id for e in feed.entries] == [
        "https://papers.test/papers/2511.00002",
        "https://papers.test/papers/2511.00001",
    ]
    assert feed.entries[1].title == "First <b>bold</b> & co"
    assert all(e.updated_parsed for e in feed.entries) and feed.feed.updated_parsed
    with session_scope() as session:
        session.execute(update(Paper).values(upvotes=Paper.upvotes + 20))
    again = parse(client.get("/feed.atom").content)
    assert {e.id for e in again.entries} == {e.id for e in feed.entries}


def test_the_empty_public_feed_is_still_valid(client: TestClient):
    feed = parse(client.get("/feed.atom").content)
    assert feed.entries == []


def test_a_reader_finds_a_private_feed_of_their_own_digests_on_the_preferences_page(
    client: TestClient,
):
    for n in range(1, 4):
        add_paper(f"2511.0000{n}", f"Paper {n}", f"We propose method {n}.")
    ada = make_subscriber("ada@example.org")
    alan = make_subscriber("alan@example.org")
    first = add_edition(DAY - timedelta(days=1), ["2511.00001", "2511.00002", "2511.00003"])
    second = add_edition(DAY, ["2511.00001", "2511.00002", "2511.00003"])
    add_sent_delivery(first, ada.id, ["2511.00001"], DAY - timedelta(days=1))
    add_sent_delivery(second, ada.id, ["2511.00002", "2511.00003"], DAY)
    add_sent_delivery(second, alan.id, ["2511.00001"], DAY)

    page = client.get(f"/preferences/{make_token('preferences', ada.id, 0)}").text
    url = re.search(r'<a href="(https://papers.test/feeds/[^"]+\.atom)">', page)
    assert url and url.group(1) == feed_url(ada.id, 0)
    response = client.get(url.group(1).removeprefix("https://papers.test"))
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    feed = parse(response.content)
    assert [e.title for e in feed.entries] == [
        "Your digest of 2026-11-25: 2 papers",
        "Your digest of 2026-11-24: 1 papers",
    ]
    assert "Paper 2" in feed.entries[0].content[0].value
    assert all(e.id.startswith("urn:paper-newsletter:delivery:") for e in feed.entries)
    assert feed.entries[0].link.startswith("https://papers.test/digest/")
    # The same address twice gives the same ids (feed readers de-duplicate by them).
    again = parse(client.get(url.group(1).removeprefix("https://papers.test")).content)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]


def test_the_private_feed_stops_with_the_other_links_and_refuses_forgeries(client: TestClient):
    ada = make_subscriber("ada@example.org")
    path = feed_url(ada.id, 0).removeprefix("https://papers.test")
    assert client.get(path).status_code == 200
    with session_scope() as session:
        unsubscribe(session, session.get_one(Subscriber, ada.id))
    assert client.get(path).status_code == 410
    assert client.get("/feeds/not-a-token.atom").status_code == 404
    # A valid link of another purpose is not a feed link.
    assert client.get(f"/feeds/{make_token('preferences', ada.id, 1)}.atom").status_code == 404


def test_with_the_page_cache_on_a_new_digest_shows_at_once_and_revocation_is_immediate(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NEWSLETTER_SITE_CACHE_SECONDS", "600")
    _reset_process_state()
    add_paper("2511.00001", "Paper 1", "We propose method 1.")
    ada = make_subscriber("ada@example.org")
    edition = add_edition(DAY, ["2511.00001"])
    path = feed_url(ada.id, 0).removeprefix("https://papers.test")
    assert parse(client.get(path).content).entries == []
    add_sent_delivery(edition, ada.id, ["2511.00001"], DAY)
    assert len(parse(client.get(path).content).entries) == 1
    with session_scope() as session:
        unsubscribe(session, session.get_one(Subscriber, ada.id))
    assert client.get(path).status_code == 410
