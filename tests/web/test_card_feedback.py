"""More/Less like this from a digest card, and links in old emails that never die."""

from __future__ import annotations

import email
import re
from email import policy

import lxml.html
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Feedback, FeedbackKind, Interest, Subscriber
from newsletter.ranking.readers import rank_and_record
from newsletter.render.compose import compose_delivery
from newsletter.subscriptions.links import click_link, feedback_link, links_for
from newsletter.subscriptions.service import Preferences, add_subscriber
from newsletter.subscriptions.tokens import read_token
from tests.ranking.dbfactories import add_papers as add_candidates
from tests.ranking.dbfactories import daily_edition, pending_delivery
from tests.ranking.factories import NOW, edition
from tests.render.dbfactories import KEY, add_delivery, add_papers
from tests.web.conftest import csrf_of

BASE = "https://papers.test"


def feedback_rows(subscriber_id: int) -> list[tuple[str, str]]:
    with session_scope() as session:
        return [
            (f.arxiv_id, f.kind)
            for f in session.scalars(
                select(Feedback)
                .where(Feedback.subscriber_id == subscriber_id)
                .order_by(Feedback.id)
            )
        ]


def a_reader() -> int:
    with session_scope() as session:
        subscriber, _, _ = add_delivery(session, add_papers(session, 4))
        return subscriber.id


def test_opening_a_feedback_link_records_nothing_and_its_button_records_the_choice(
    client: TestClient,
):
    reader = a_reader()
    more = feedback_link(reader, 0, "2411.00002", "more").removeprefix(BASE)
    page = client.get(more)  # what a mail scanner does
    assert page.status_code == 200
    assert "part 2" in page.text and "Yes, more like this" in page.text
    assert feedback_rows(reader) == []
    done = client.post(more, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Noted" in done.text
    assert feedback_rows(reader) == [("2411.00002", FeedbackKind.LIKED)]
    less = feedback_link(reader, 0, "2411.00002", "less").removeprefix(BASE)
    page = client.get(less)
    client.post(less, data={"csrf_token": csrf_of(page.text)})
    assert feedback_rows(reader) == [("2411.00002", FeedbackKind.HIDDEN)]  # a change of mind


def test_a_feedback_post_without_the_pages_csrf_token_records_nothing(client: TestClient):
    reader = a_reader()
    more = feedback_link(reader, 0, "2411.00001", "more").removeprefix(BASE)
    response = client.post(more, data={})
    assert response.status_code == 400
    assert feedback_rows(reader) == []


def test_a_forged_or_revoked_feedback_link_says_so_and_records_nothing(client: TestClient):
    reader = a_reader()
    assert client.get("/f/not-a-token").status_code == 400
    old = feedback_link(reader, 0, "2411.00001", "less").removeprefix(BASE)
    with session_scope() as session:
        session.get_one(Subscriber, reader).token_generation = 1
    response = client.get(old)
    assert response.status_code == 410 and "most recent digest" in response.text
    assert feedback_rows(reader) == []


def test_the_emails_cards_carry_feedback_links_for_their_reader_and_paper():
    with session_scope() as session:
        subscriber, _, delivery = add_delivery(session, add_papers(session, 3))
        outgoing = compose_delivery(session, delivery, subscriber)
        sid = subscriber.id
    document = lxml.html.fromstring(outgoing.html or "")
    hrefs = document.xpath("//p[@class='feedback']/a/@href")
    assert all(h.startswith(f"{BASE}/f/") for h in hrefs)
    read = [read_token("feedback", h.rsplit("/", 1)[1]) for h in hrefs]
    assert [(t.subscriber_id, t.extra) for t in read] == [
        (sid, f"2411.0000{n}|{choice}") for n in (1, 2, 3) for choice in ("more", "less")
    ]


def test_less_like_this_in_one_digest_changes_the_next(client: TestClient):
    papers = edition()
    with session_scope() as session:
        add_candidates(session, papers, NOW)
        prefs = Preferences(categories=["cs.CV"])
        reader = add_subscriber(session, "r@example.org", prefs, confirmed=True)
        twin = add_subscriber(session, "twin@example.org", prefs, confirmed=True)
        first = daily_edition(session, papers)
        delivery = pending_delivery(session, first.id, reader.id)
        rank_and_record(session, [delivery.id], now=NOW)
        before = [p["arxiv_id"] for p in delivery.papers or []]
        reader_id, twin_id = reader.id, twin.id
    hidden = before[0]
    less = feedback_link(reader_id, 0, hidden, "less").removeprefix(BASE)
    client.post(less, data={"csrf_token": csrf_of(client.get(less).text)})
    with session_scope() as session:
        second = daily_edition(session, papers, days=1)
        deliveries = [pending_delivery(session, second.id, s) for s in (reader_id, twin_id)]
        rank_and_record(session, [d.id for d in deliveries], now=NOW)
        after, twins = ([p["arxiv_id"] for p in d.papers or []] for d in deliveries)
    assert hidden in before and hidden not in after
    assert hidden in twins  # the same interests without the click still get it


def test_a_revoked_paper_link_still_leads_to_the_paper_without_recording(client: TestClient):
    reader = a_reader()
    link = click_link(reader, 0, "2411.00003", "pdf").removeprefix(BASE)
    with session_scope() as session:
        session.get_one(Subscriber, reader).token_generation = 1  # address changed
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://arxiv.org/pdf/2411.00003"
    assert feedback_rows(reader) == []


def test_a_current_paper_link_records_the_click_unless_tracking_is_off(client: TestClient):
    reader = a_reader()
    link = click_link(reader, 0, "2411.00003").removeprefix(BASE)
    assert client.get(link, follow_redirects=False).status_code == 302
    assert feedback_rows(reader) == [("2411.00003", FeedbackKind.CLICKED)]
    with session_scope() as session:
        session.get_one(Subscriber, reader).click_tracking = False
    other = click_link(reader, 0, "2411.00004").removeprefix(BASE)
    assert client.get(other, follow_redirects=False).status_code == 302
    assert feedback_rows(reader) == [("2411.00003", FeedbackKind.CLICKED)]


def test_a_revoked_view_link_shows_the_public_edition_without_the_reader(client: TestClient):
    reader = a_reader()
    view = (links_for(reader, 0, KEY).view or "").removeprefix(BASE)
    with session_scope() as session:
        session.get_one(Subscriber, reader).token_generation = 1  # unsubscribed
    response = client.get(view)
    assert response.status_code == 200
    assert "ada@example.org" not in response.text
    assert "public version" in response.text
    document = lxml.html.fromstring(response.text)
    titles = [t.text_content() for t in document.xpath("//h2[@class='title']")]
    assert titles[0].endswith("part 4")  # the most upvoted first
    hrefs = document.xpath("//a/@href")
    assert not [h for h in hrefs if re.search(r"/(c|f|preferences|unsubscribe|digest)/", h)]


def test_a_reader_who_turns_tracking_off_gets_direct_links_and_no_tracking_line():
    with session_scope() as session:
        subscriber, _, delivery = add_delivery(session, add_papers(session, 2))
        subscriber.click_tracking = False
        outgoing = compose_delivery(session, delivery, subscriber)
    message = email.message_from_bytes(outgoing.raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "https://arxiv.org/abs/2411.00001" in text and "/c/" not in text
    assert "Click tracking is off" in text
    assert "/f/" in text  # More/Less like this still work


def test_the_footer_says_links_are_click_tracked():
    with session_scope() as session:
        subscriber, _, delivery = add_delivery(session, add_papers(session, 2))
        outgoing = compose_delivery(session, delivery, subscriber)
    assert "click-tracked to improve your picks" in (outgoing.html or "")


def test_also_trending_shows_popular_papers_outside_the_interests_unless_turned_off():
    with session_scope() as session:
        papers = add_papers(session, 6)
        papers[5].categories = ["q-bio.NC"]
        papers[5].title = "Neurons that count"
        papers[5].num_comments = 45
        papers[4].categories = ["astro-ph.GA"]
        papers[4].title = "Galaxies far away"
        subscriber, _, delivery = add_delivery(session, papers)
        delivery.papers = (delivery.papers or [])[:3]
        subscriber.interests.append(Interest(kind="category", value="cs.LG"))
        outgoing = compose_delivery(session, delivery, subscriber)
        subscriber.also_trending = False
        without = compose_delivery(session, delivery, subscriber)
    html = outgoing.html or ""
    assert "Also trending" in html
    assert "Trending outside your interests: 18 upvotes, 45 comments" in html
    assert "Trending outside your interests: 15 upvotes" in html
    assert html.index("Neurons that count") < html.index("Galaxies far away")
    assert "part 4" not in html  # in cs.LG: not outside the reader's interests
    assert "Also trending" not in (without.html or "")
