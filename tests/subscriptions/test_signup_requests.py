"""A signup form's choices wait for its own confirmation link (issue 11, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletter.db import ensure_schema, session_scope
from newsletter.models import SignupRequest, SubscriberStatus
from newsletter.subscriptions.service import Preferences, preferences_of
from newsletter.subscriptions.signup import confirm, request_signup
from tests.subscriptions.factories import link_in, outbox_messages, reload


@pytest.fixture
def schema(db_url: str) -> str:
    ensure_schema()
    return db_url


def requests_stored() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(SignupRequest)) or 0)


def test_confirming_applies_the_links_own_form_and_clears_the_requests(
    schema: str, isolated_settings: Path
):
    result = request_signup("new@example.org", Preferences(keywords=["optics"], max_papers=5))
    assert requests_stored() == 1
    [mail] = outbox_messages(isolated_settings)
    confirmed = confirm(link_in(mail, "confirm").rsplit("/", 1)[1])
    after = reload(result.subscriber_id or 0)
    assert confirmed.welcome_sent and after.status == SubscriberStatus.ACTIVE
    assert (list(preferences_of(after).keywords), after.max_papers) == (["optics"], 5)
    assert requests_stored() == 0


def test_a_stored_form_that_no_longer_validates_still_confirms_with_the_rows_choices(
    schema: str, isolated_settings: Path
):
    result = request_signup("new@example.org", Preferences(keywords=["optics"]))
    with session_scope() as session:
        request = session.scalars(select(SignupRequest)).one()
        request.preferences = {**request.preferences, "max_papers": 999}
    [mail] = outbox_messages(isolated_settings)
    confirm(link_in(mail, "confirm").rsplit("/", 1)[1])
    after = reload(result.subscriber_id or 0)
    assert after.status == SubscriberStatus.ACTIVE
    assert list(preferences_of(after).keywords) == ["optics"]
