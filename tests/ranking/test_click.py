"""The click-tracking redirect: only to the paper's own URLs, one Feedback row per paper."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from newsletter.db import session_scope
from newsletter.models import Feedback, FeedbackKind, Paper, Subscriber
from newsletter.subscriptions.links import click_link
from newsletter.subscriptions.service import Preferences, add_subscriber
from newsletter.subscriptions.tokens import make_token
from newsletter.web.app import create_app

ABS = "https://arxiv.org/abs/2411.01234"
PDF = "https://arxiv.org/pdf/2411.01234v2"


@pytest.fixture
def client(sqlite_url: str) -> TestClient:
    # The web app never migrates (`newsletter db upgrade` does): start from a migrated DB.
    return TestClient(create_app(), follow_redirects=False)


@pytest.fixture
def reader(client: TestClient) -> int:
    with session_scope() as session:
        session.add_all(
            [
                Paper(arxiv_id="2411.01234", title="A paper", abs_url=ABS, pdf_url=PDF),
                Paper(arxiv_id="sample.0001", title="No links"),
                Paper(arxiv_id="2411.09999", title="Odd link", hf_url="javascript:alert(1)"),
            ]
        )
        subscriber = add_subscriber(session, "reader@example.org", Preferences(), confirmed=True)
        return subscriber.id


def path(url: str) -> str:
    return url.removeprefix("https://papers.test")


def clicks(subscriber_id: int) -> list[str]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Feedback.arxiv_id).where(
                    Feedback.subscriber_id == subscriber_id,
                    Feedback.kind == FeedbackKind.CLICKED,
                )
            )
        )


def test_a_valid_link_redirects_to_the_papers_own_page_and_records_the_click(client, reader):
    response = client.get(path(click_link(reader, 0, "2411.01234")))
    assert response.status_code == 302
    assert response.headers["location"] == ABS
    assert response.headers["referrer-policy"] == "no-referrer"
    assert clicks(reader) == ["2411.01234"]


def test_each_target_leads_to_its_own_stored_url(client, reader):
    response = client.get(path(click_link(reader, 0, "2411.01234", "pdf")))
    assert (response.status_code, response.headers["location"]) == (302, PDF)


def test_clicking_the_same_paper_again_records_one_click(client, reader):
    for target in ("abs", "abs", "pdf"):
        assert client.get(path(click_link(reader, 0, "2411.01234", target))).status_code == 302
    assert clicks(reader) == ["2411.01234"]


def test_an_arxiv_paper_without_a_stored_page_falls_back_to_arxiv_itself(client, reader):
    with session_scope() as session:
        session.add(Paper(arxiv_id="2401.00001", title="Bare"))
    response = client.get(path(click_link(reader, 0, "2401.00001")))
    assert response.headers["location"] == "https://arxiv.org/abs/2401.00001"


@pytest.mark.parametrize(
    ("arxiv_id", "target"),
    [("sample.0001", "abs"), ("2411.01234", "code"), ("2411.09999", "hf"), ("sample.0002", "pdf")],
)
def test_a_link_the_paper_does_not_have_is_a_404_page_not_a_redirect(
    client, reader, arxiv_id, target
):
    response = client.get(path(click_link(reader, 0, arxiv_id, target)))
    assert response.status_code == 404
    assert "location" not in response.headers
    assert "Paper link not found" in response.text
    assert clicks(reader) == []


def test_a_paper_since_removed_from_us_still_leads_to_arxiv(client, reader):
    """Links never die: an emailed arXiv paper we no longer store still opens on arXiv."""
    response = client.get(path(click_link(reader, 0, "2411.55555", "pdf")))
    assert response.status_code == 302
    assert response.headers["location"] == "https://arxiv.org/pdf/2411.55555"


def forged_tokens(reader: int) -> list[str]:
    good = make_token("click", reader, 0, "2411.01234|abs")
    other_key = URLSafeTimedSerializer("not-our-secret", salt="newsletter.click")
    return [
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),  # tampered signature
        other_key.dumps([reader, 0, "2411.01234|abs"]),  # signed with another key
        make_token("unsubscribe", reader, 0, "2411.01234|abs"),  # another purpose
        make_token("click", reader, 0, "https://evil.example/|abs"),  # a URL as the "paper"
        make_token("click", reader, 0, "2411.01234|https://evil.example/"),  # unknown target
    ]


@pytest.mark.parametrize("which", range(5))
def test_a_forged_link_shows_an_error_page_and_redirects_nowhere(client, reader, which):
    response = client.get(f"/c/{forged_tokens(reader)[which]}")
    assert response.status_code in (400, 404)
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert clicks(reader) == []


def test_a_link_from_before_the_reader_revoked_their_links_still_opens_the_paper_unrecorded(
    client, reader
):
    """Links never die: an old email's paper link still opens the paper after the reader
    changed address or left, but the click is nobody's to record any more."""
    url = path(click_link(reader, 0, "2411.01234"))
    with session_scope() as session:
        session.get_one(Subscriber, reader).token_generation = 1
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["location"] == "https://arxiv.org/abs/2411.01234"
    assert clicks(reader) == []


def test_a_deleted_readers_old_link_still_opens_the_paper(client, reader):
    response = client.get(path(click_link(reader + 99, 0, "2411.01234")))
    assert response.status_code == 302
    assert clicks(reader) == []
    fresh = client.get(path(click_link(reader, 1, "2411.01234")))
    assert fresh.status_code == 302


def test_query_parameters_cannot_steer_the_redirect(client, reader):
    url = path(click_link(reader, 0, "2411.01234")) + "?next=https://evil.example/&url=//evil"
    response = client.get(url)
    assert response.headers["location"] == ABS


def test_clicks_are_counted_once_per_reader(client, reader):
    with session_scope() as session:
        other = add_subscriber(session, "other@example.org", Preferences(), confirmed=True).id
    client.get(path(click_link(reader, 0, "2411.01234")))
    client.get(path(click_link(other, 0, "2411.01234")))
    with session_scope() as session:
        assert session.scalar(select(func.count(Feedback.id))) == 2
