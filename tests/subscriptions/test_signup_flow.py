"""Signup, confirm, unsubscribe and ratings as functions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter import services
from newsletter.db import ensure_schema, session_scope
from newsletter.delivery.base import OutgoingEmail, SendResult, TransientSendError
from newsletter.models import Feedback, Subscriber, SubscriberStatus, Suppression
from newsletter.subscriptions.feedback import rate_paper, recent_papers
from newsletter.subscriptions.service import Preferences
from newsletter.subscriptions.signup import (
    ConfirmOutcome,
    SignupOutcome,
    confirm,
    request_signup,
    unsubscribe_by_token,
)
from newsletter.subscriptions.tokens import InvalidToken, make_token
from newsletter.subscriptions.validation import InvalidInput
from newsletter.timeutil import utcnow
from newsletter.web.forms import parse_arxiv_id, split_list
from tests.subscriptions.factories import (
    link_in,
    make_sent_digest,
    make_subscriber,
    outbox_messages,
    reload,
)

PREFS = Preferences(keywords=["diffusion"], timezone="Europe/Berlin")


class RefusingSender:
    """A mail backend that is down: every send is a transient error."""

    name = "refusing"

    def __init__(self) -> None:
        self.attempts = 0

    def send(self, email: OutgoingEmail) -> SendResult:
        self.attempts += 1
        raise TransientSendError("503 Service Unavailable")


@pytest.fixture
def schema(db_url: str) -> str:
    ensure_schema()
    return db_url


def test_the_whole_opt_in_cycle_works_on_both_databases(schema: str, isolated_settings: Path):
    result = request_signup("Reader@Example.org", PREFS)
    assert result.outcome == SignupOutcome.CONFIRMATION_SENT
    token = link_in(outbox_messages(isolated_settings)[0], "confirm").rsplit("/", 1)[1]
    confirmed = confirm(token)
    assert confirmed.outcome == ConfirmOutcome.CONFIRMED and confirmed.welcome_sent
    assert confirm(token).outcome == ConfirmOutcome.ALREADY_ACTIVE
    subscriber = reload(confirmed.subscriber_id)
    assert subscriber.status == SubscriberStatus.ACTIVE
    unsubscribe = make_token("unsubscribe", subscriber.id, subscriber.token_generation)
    first = unsubscribe_by_token(unsubscribe)
    assert first.changed and first.goodbye_sent
    second = unsubscribe_by_token(unsubscribe)
    assert not second.changed and not second.goodbye_sent
    # Unsubscribing bumped the generation: the old confirmation link cannot re-activate.
    with pytest.raises(InvalidToken):
        confirm(token)
    assert reload(subscriber.id).status == SubscriberStatus.UNSUBSCRIBED


def test_a_mail_outage_keeps_the_signup_and_lets_the_person_retry(
    schema: str, isolated_settings: Path
):
    refusing = RefusingSender()
    services.current().provide("sender", refusing)
    result = request_signup("reader@example.org", PREFS)
    assert result.outcome == SignupOutcome.MAIL_FAILED
    assert reload(result.subscriber_id or 0).status == SubscriberStatus.PENDING
    # Not throttled: nothing reached the person, so asking again tries again at once.
    assert request_signup("reader@example.org", PREFS).outcome == SignupOutcome.MAIL_FAILED
    assert refusing.attempts == 2
    services.reset()
    assert request_signup("reader@example.org", PREFS).outcome == (SignupOutcome.CONFIRMATION_SENT)


def test_signups_are_throttled_per_address_not_globally(schema: str, isolated_settings: Path):
    now = utcnow()
    assert request_signup("a@example.org", PREFS, now).outcome == SignupOutcome.CONFIRMATION_SENT
    assert request_signup("a@example.org", PREFS, now).outcome == SignupOutcome.THROTTLED
    assert request_signup("b@example.org", PREFS, now).outcome == SignupOutcome.CONFIRMATION_SENT
    later = now + timedelta(minutes=11)
    assert request_signup("a@example.org", PREFS, later).outcome == (
        SignupOutcome.CONFIRMATION_SENT
    )


def test_suppressed_addresses_are_never_mailed_by_the_signup_form(
    schema: str, isolated_settings: Path
):
    with session_scope() as session:
        session.add(Suppression(email="gone@example.org", reason="complaint"))
    assert request_signup("gone@example.org", PREFS).outcome == SignupOutcome.BLOCKED
    assert outbox_messages(isolated_settings) == []
    with session_scope() as session:
        assert session.scalars(select(Subscriber)).all() == []


def test_invalid_preferences_are_refused_before_anything_is_stored(schema: str):
    with pytest.raises(InvalidInput):
        request_signup("reader@example.org", Preferences(timezone="Nowhere/Atlantis"))
    with pytest.raises(InvalidInput):
        request_signup("not an address", PREFS)
    with session_scope() as session:
        assert session.scalars(select(Subscriber)).all() == []


def test_ratings_only_touch_papers_the_reader_received(schema: str):
    subscriber = make_subscriber()
    make_sent_digest(subscriber.id, [("2411.00001", "One"), ("2411.00002", "Two")])
    with session_scope() as session:
        reader = session.get_one(Subscriber, subscriber.id)
        rate_paper(session, reader, "2411.00001", "hide")
        rate_paper(session, reader, "2411.00001", "like")  # replaces the hide
        with pytest.raises(InvalidInput):
            rate_paper(session, reader, "2411.99999", "like")
        papers = recent_papers(session, reader)
        kinds = {tuple(row) for row in session.execute(select(Feedback.arxiv_id, Feedback.kind))}
    assert [(p.arxiv_id, p.liked, p.hidden) for p in papers] == [
        ("2411.00001", True, False),
        ("2411.00002", False, False),
    ]
    assert kinds == {("2411.00001", "liked")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2411.01234", "2411.01234"),
        ("2411.01234v3", "2411.01234"),
        ("arXiv:2411.01234", "2411.01234"),
        ("https://arxiv.org/abs/2411.01234v2", "2411.01234"),
        ("https://arxiv.org/pdf/2411.01234", "2411.01234"),
        ("https://huggingface.co/papers/2411.01234", "2411.01234"),
        ("hep-th/9901001v1", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("not a paper", None),
        ("12345.6789", None),
    ],
)
def test_seed_papers_are_read_from_ids_and_links(text: str, expected: str | None):
    assert parse_arxiv_id(text) == expected


def test_list_fields_split_on_commas_semicolons_and_lines():
    assert split_list(" a, b;c\n\n d ,") == ["a", "b", "c", "d"]
