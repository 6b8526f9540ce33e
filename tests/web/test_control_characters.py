"""A NUL byte or another control character in any form field is a field error, not a 500.

PostgreSQL cannot store (or even compare against) text holding NUL, so these run on both
databases.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from newsletter.subscriptions.service import preferences_of
from newsletter.subscriptions.tokens import make_token
from tests.subscriptions.factories import make_sent_digest, make_subscriber, reload
from tests.web.conftest import SIGNUP, csrf_of
from tests.web.test_signup_pages import count_subscribers

HOSTILE = ["di\x00ffusion", "esc\x1b[31m", "bell\x07", "c1\x85"]
TEXT_FIELDS = ["keywords", "exclude", "description", "other_categories", "seed_papers"]


@pytest.mark.parametrize("field", ["email", *TEXT_FIELDS, "timezone", "hour", "categories"])
def test_a_nul_byte_in_any_signup_field_is_a_field_error(
    db_url: str, client: TestClient, field: str
):
    page = client.get("/signup")
    value = "ada\x00@example.org" if field == "email" else HOSTILE[0]
    form = {**SIGNUP, field: value, "csrf_token": csrf_of(page.text)}
    response = client.post("/signup", data=form)
    assert response.status_code == 400
    assert "aria-invalid" in response.text or "invalid characters" in response.text
    assert "\x00" not in response.text
    assert count_subscribers() == 0


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["keywords", "exclude", "description"])
def test_control_characters_in_the_preferences_form_change_nothing(
    db_url: str, client: TestClient, field: str, value: str
):
    subscriber = make_subscriber()
    path = f"/preferences/{make_token('preferences', subscriber.id, 0)}"
    page = client.get(path)
    form = {**SIGNUP, field: value, "csrf_token": csrf_of(page.text)}
    response = client.post(path, data=form)
    assert response.status_code == 400
    assert "Remove the invisible control characters" in response.text
    assert preferences_of(reload(subscriber.id)).keywords == ["diffusion"]


def test_a_nul_byte_in_a_rated_paper_or_a_new_address_is_refused(db_url: str, client: TestClient):
    subscriber = make_subscriber()
    make_sent_digest(subscriber.id, [("2411.00001", "A paper")])
    path = f"/preferences/{make_token('preferences', subscriber.id, 0)}"
    token = csrf_of(client.get(path).text)
    rating = {"arxiv_id": "2411.00001\x00", "action": "like", "csrf_token": token}
    assert client.post(f"{path}/feedback", data=rating).status_code == 400
    change = {"new_email": "new\x00@example.org", "csrf_token": token}
    assert client.post(f"{path}/email", data=change).status_code == 400
    assert reload(subscriber.id).email == "reader@example.org"
