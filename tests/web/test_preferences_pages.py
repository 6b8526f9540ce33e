"""The preferences page at a signed link: change everything, like and hide received papers."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Feedback, SubscriberStatus
from newsletter.subscriptions.service import preferences_of
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import make_sent_digest, make_subscriber, reload
from tests.web.conftest import SIGNUP, csrf_of


def prefs_path(subscriber_id: int, generation: int = 0) -> str:
    return f"/preferences/{make_token('preferences', subscriber_id, generation)}"


def feedback_rows(subscriber_id: int) -> set[tuple[str, str]]:
    with session_scope() as session:
        rows = session.scalars(select(Feedback).where(Feedback.subscriber_id == subscriber_id))
        return {(f.arxiv_id, f.kind) for f in rows}


def test_the_page_shows_current_settings_next_digest_and_received_papers(client: TestClient):
    subscriber = make_subscriber(keywords=("diffusion", "graph <b>networks</b>"))
    make_sent_digest(subscriber.id, [("2411.00001", "A <i>paper</i> on diffusion")])
    page = client.get(prefs_path(subscriber.id))
    assert page.status_code == 200
    assert "reader@example.org" in page.text
    assert "Next digest:" in page.text and "Europe/Berlin" in page.text
    assert "A &lt;i&gt;paper&lt;/i&gt; on diffusion" in page.text
    assert "graph &lt;b&gt;networks&lt;/b&gt;" in page.text
    assert '<option value="Europe/Berlin" selected>' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_saving_the_form_changes_every_preference(client: TestClient):
    subscriber = make_subscriber()
    path = prefs_path(subscriber.id)
    page = client.get(path)
    form = {
        **SIGNUP,
        "email": "ignored@example.org",
        "keywords": "graph neural networks",
        "categories": ["stat.ML"],
        "other_categories": "",
        "exclude": "survey",
        "seed_papers": "2411.01234",
        "timezone": "America/Denver",
        "hour": "18",
        "frequency": "weekly",
        "weekday": "4",
        "max_papers": "5",
        "format": "text",
        "csrf_token": csrf_of(page.text),
    }
    response = client.post(path, data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(path + "?saved=preferences")
    after = reload(subscriber.id)
    prefs = preferences_of(after)
    assert after.email == "reader@example.org"  # the address is not a preference
    assert list(prefs.keywords) == ["graph neural networks"]
    assert list(prefs.negative_keywords) == ["survey"]
    assert list(prefs.categories) == ["stat.ML"]
    assert list(prefs.seed_papers) == ["2411.01234"]
    assert (after.timezone, after.send_hour, after.frequency, after.weekday) == (
        "America/Denver",
        18,
        "weekly",
        4,
    )
    assert (after.max_papers, after.format) == (5, "text")
    shown = client.get(response.headers["location"])
    assert "Saved." in shown.text
    assert "Friday" in shown.text  # the next digest is on the new weekday


def test_bad_input_on_the_preferences_form_keeps_typing_and_old_settings(client: TestClient):
    subscriber = make_subscriber(keywords=("diffusion",))
    path = prefs_path(subscriber.id)
    page = client.get(path)
    response = client.post(
        path,
        data={
            **SIGNUP,
            "keywords": "new idea",
            "max_papers": "500",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 400
    assert "Choose a number of papers between 1 and 50" in response.text
    assert 'value="new idea"' in response.text
    assert list(preferences_of(reload(subscriber.id)).keywords) == ["diffusion"]


def test_the_preferences_form_needs_a_csrf_token(client: TestClient):
    subscriber = make_subscriber(keywords=("diffusion",))
    path = prefs_path(subscriber.id)
    client.get(path)
    response = client.post(path, data={**SIGNUP, "keywords": "changed"})
    assert response.status_code == 400
    assert "This form expired" in response.text
    assert list(preferences_of(reload(subscriber.id)).keywords) == ["diffusion"]


def test_forged_expired_and_revoked_preference_links_are_refused(client: TestClient):
    subscriber = make_subscriber()
    path = prefs_path(subscriber.id)
    other_purpose = f"/preferences/{make_token('unsubscribe', subscriber.id, 0)}"
    for bad in (path[:-2] + "xx", "/preferences/abc", other_purpose):
        response = client.get(bad)
        assert response.status_code == 400
        assert "not valid" in response.text
        assert client.post(bad, data=SIGNUP).status_code == 400
    with time_machine.travel(utcnow() + timedelta(days=91)):
        assert "expired" in client.get(path).text
    with session_scope() as session:
        from newsletter.models import Subscriber

        session.get_one(Subscriber, subscriber.id).token_generation = 1
    response = client.get(path)
    assert response.status_code == 400
    assert "replaced by a newer one" in response.text
    assert client.get(prefs_path(subscriber.id, 1)).status_code == 200


def test_liking_and_hiding_received_papers_writes_feedback_the_ranking_reads(
    client: TestClient,
):
    subscriber = make_subscriber()
    make_sent_digest(subscriber.id, [("2411.00001", "Paper one"), ("2411.00002", "Paper two")])
    path = prefs_path(subscriber.id)
    token = csrf_of(client.get(path).text)

    def rate(arxiv_id: str, action: str) -> int:
        response = client.post(
            f"{path}/feedback",
            data={"arxiv_id": arxiv_id, "action": action, "csrf_token": token},
            follow_redirects=False,
        )
        return response.status_code

    assert rate("2411.00001", "like") == 303
    assert rate("2411.00001", "like") == 303  # twice is the same as once
    assert rate("2411.00002", "hide") == 303
    assert feedback_rows(subscriber.id) == {("2411.00001", "liked"), ("2411.00002", "hidden")}
    page = client.get(path).text
    assert 'value="unlike" aria-pressed="true"' in page
    assert 'value="unhide" aria-pressed="true"' in page
    # Liking a hidden paper replaces the hide; unlike removes the like.
    assert rate("2411.00002", "like") == 303
    assert rate("2411.00001", "unlike") == 303
    assert feedback_rows(subscriber.id) == {("2411.00002", "liked")}


def test_papers_never_sent_cannot_be_rated_and_forms_need_csrf(client: TestClient):
    subscriber = make_subscriber()
    other = make_subscriber("other@example.org")
    make_sent_digest(other.id, [("2411.00009", "Someone else's paper")])
    path = prefs_path(subscriber.id)
    token = csrf_of(client.get(path).text)
    response = client.post(
        f"{path}/feedback", data={"arxiv_id": "2411.00009", "action": "like", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "only rate papers from your own digests" in response.text
    data = {"arxiv_id": "2411.00009", "action": "explode", "csrf_token": token}
    response = client.post(f"{path}/feedback", data=data)
    assert response.status_code == 400
    make_sent_digest(subscriber.id, [("2411.00001", "Mine")], edition_key="daily-2026-11-24")
    response = client.post(f"{path}/feedback", data={"arxiv_id": "2411.00001", "action": "like"})
    assert response.status_code == 400
    assert feedback_rows(subscriber.id) == set()


def test_a_bounced_subscriber_sees_why_mail_stopped(client: TestClient):
    subscriber = make_subscriber(status=SubscriberStatus.BOUNCED)
    page = client.get(prefs_path(subscriber.id))
    assert page.status_code == 200
    assert "bounced" in page.text
