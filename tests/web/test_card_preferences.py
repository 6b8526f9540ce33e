"""The preferences page's digest switches: "Also trending" and click tracking."""

from __future__ import annotations

from fastapi.testclient import TestClient

from newsletter.db import session_scope
from newsletter.models import Subscriber
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.service import Preferences, add_subscriber
from tests.web.conftest import SIGNUP, csrf_of


def test_unticking_the_boxes_turns_off_tracking_and_also_trending(client: TestClient):
    with session_scope() as session:
        reader = add_subscriber(
            session, "p@example.org", Preferences(keywords=["x"]), confirmed=True
        )
        reader_id = reader.id
    path = links_for(reader_id, 0).preferences.removeprefix("https://papers.test")
    page = client.get(path)
    assert 'name="also_trending" value="on" checked' in page.text
    assert 'name="click_tracking" value="on" checked' in page.text
    form = {**SIGNUP, "csrf_token": csrf_of(page.text)}
    form.pop("also_trending", None)
    form.pop("click_tracking", None)
    assert client.post(path, data=form, follow_redirects=False).status_code == 303
    with session_scope() as session:
        saved = session.get_one(Subscriber, reader_id)
        assert (saved.also_trending, saved.click_tracking) == (False, False)
    page = client.get(path)
    assert 'name="also_trending" value="on">' in page.text
    form = {**form, "csrf_token": csrf_of(page.text), "also_trending": "on", "click_tracking": "on"}
    client.post(path, data=form, follow_redirects=False)
    with session_scope() as session:
        saved = session.get_one(Subscriber, reader_id)
        assert (saved.also_trending, saved.click_tracking) == (True, True)
