"""A reader's own data from the preferences page: download it as JSON, or delete it all."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Feedback, Subscriber, Suppression
from newsletter.subscriptions.erasure import address_hash
from newsletter.subscriptions.tokens import make_token
from tests.subscriptions.factories import make_sent_digest, make_subscriber
from tests.web.conftest import csrf_of


def prefs_path(subscriber_id: int, generation: int = 0) -> str:
    return f"/preferences/{make_token('preferences', subscriber_id, generation)}"


def test_download_my_data_gives_profile_feedback_and_deliveries_as_json(client: TestClient):
    reader = make_subscriber(keywords=("diffusion",))
    make_sent_digest(reader.id, [("2411.00001", "Diffusion")], message_id="m-1")
    path = prefs_path(reader.id)
    page = client.get(path).text
    assert "Download my data" in page and f"{path}/delete" in page
    response = client.post(f"{path}/data", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["profile"]["email"] == "reader@example.org"
    assert data["profile"]["interests"] == {"keyword": ["diffusion"]}
    assert data["deliveries"][0]["message_id"] == "m-1"
    assert data["feedback"] == []


def test_the_download_needs_the_forms_token_and_a_good_link(client: TestClient):
    reader = make_subscriber()
    path = prefs_path(reader.id)
    client.get(path)  # the cookie, but no token in the form
    refused = client.post(f"{path}/data", data={})
    assert refused.status_code == 400 and "Nothing was done" in refused.text
    token = csrf_of(client.get(path).text)
    forged = client.post("/preferences/forged/data", data={"csrf_token": token})
    assert forged.status_code == 400 and "This link doesn" in forged.text
    old = client.post(f"{prefs_path(reader.id, generation=5)}/data", data={"csrf_token": token})
    assert old.status_code == 400


def test_delete_me_asks_first_then_leaves_only_the_hash(client: TestClient):
    reader = make_subscriber()
    make_sent_digest(reader.id, [("2411.00001", "Diffusion")])
    with session_scope() as session:
        session.add(Feedback(subscriber_id=reader.id, arxiv_id="2411.00001", kind="liked"))
    path = prefs_path(reader.id)
    confirm = client.get(f"{path}/delete")
    assert confirm.status_code == 200
    assert "Delete everything about you?" in confirm.text and "reader@example.org" in confirm.text
    with session_scope() as session:
        assert session.get(Subscriber, reader.id) is not None  # a GET changes nothing
    done = client.post(f"{path}/delete", data={"csrf_token": csrf_of(confirm.text)})
    assert done.status_code == 200 and "Your data is deleted" in done.text
    with session_scope() as session:
        assert session.get(Subscriber, reader.id) is None
        assert list(session.scalars(select(Feedback))) == []
        kept = [(s.email, s.reason) for s in session.scalars(select(Suppression))]
    assert kept == [(address_hash("reader@example.org"), "erased")]
    # The link names someone who is gone now: it says so, without a traceback.
    again = client.get(path)
    assert again.status_code == 400 and "This link doesn" in again.text
