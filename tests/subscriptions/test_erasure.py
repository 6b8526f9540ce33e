"""A reader's data: exported whole as JSON, and erased with only a hash of the address kept."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from newsletter.db import session_scope
from newsletter.models import (
    Delivery,
    EmailEvent,
    Feedback,
    Interest,
    Subscriber,
    Suppression,
    TransactionalMail,
)
from newsletter.subscriptions.bounces import record_ses_event
from newsletter.subscriptions.erasure import (
    address_hash,
    erase_subscriber,
    is_erased,
    reader_data,
)
from newsletter.subscriptions.feedback import rate_paper
from newsletter.subscriptions.mail import queue_mail
from tests.subscriptions.factories import make_sent_digest, make_subscriber
from tests.subscriptions.sns_helpers import bounce


def a_reader_with_history(
    address: str = "ada@example.org", edition: str = "daily-2026-11-25"
) -> int:
    """A reader with interests, a sent digest (message id m-<address>), a like, a welcome."""
    subscriber = make_subscriber(address, keywords=("diffusion", "optimal transport"))
    message_id = f"m-{address}"
    make_sent_digest(
        subscriber.id,
        [("2411.00001", "Diffusion bridges")],
        message_id=message_id,
        edition_key=edition,
    )
    with session_scope() as session:
        reader = session.get_one(Subscriber, subscriber.id)
        rate_paper(session, reader, "2411.00001", "like")
    queue_mail("welcome", subscriber.id)
    return subscriber.id


def count(model: type, *where: object) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_the_address_hash_ignores_case_and_spaces_and_hides_the_address():
    hashed = address_hash("  Ada@Example.ORG ")
    assert hashed == address_hash("ada@example.org")
    assert hashed.startswith("sha256:") and len(hashed) == len("sha256:") + 64
    assert "ada" not in hashed
    assert address_hash("not an address") == address_hash("NOT AN ADDRESS ")
    assert address_hash("bob@example.org") != hashed


def test_the_export_holds_profile_interests_feedback_deliveries_and_events(db_url: str):
    subscriber_id = a_reader_with_history()
    with session_scope() as session:
        record_ses_event(session, "sns-1", json.dumps(bounce(["ada@example.org"])))
        data = reader_data(session, session.get_one(Subscriber, subscriber_id))
    json.dumps(data)  # plain JSON all the way down
    assert data["profile"]["email"] == "ada@example.org"
    assert data["profile"]["interests"] == {"keyword": ["diffusion", "optimal transport"]}
    assert [(f["arxiv_id"], f["kind"]) for f in data["feedback"]] == [("2411.00001", "liked")]
    [delivery] = data["deliveries"]
    assert delivery["message_id"] == "m-ada@example.org" and delivery["state"] == "sent"
    assert delivery["papers"] == [{"arxiv_id": "2411.00001", "reason": "test"}]
    assert [e["kind"] for e in data["emails"]] == ["welcome"]
    assert [e["type"] for e in data["email_events"]] == ["bounce"]
    assert data["suppression"]["reason"] == "bounce"


def test_erasing_a_reader_leaves_only_a_hash_of_the_address(db_url: str):
    subscriber_id = a_reader_with_history()
    other = a_reader_with_history("bob@example.org", "daily-2026-11-26")
    with session_scope() as session:
        record_ses_event(session, "sns-1", json.dumps(bounce(["ada@example.org"])))
    with session_scope() as session:
        kept = erase_subscriber(session, subscriber_id)
    assert kept == address_hash("ada@example.org")
    assert count(Subscriber, Subscriber.id == subscriber_id) == 0
    for model in (Interest, Feedback, Delivery, TransactionalMail):
        assert count(model, model.subscriber_id == subscriber_id) == 0, model.__name__
        assert count(model, model.subscriber_id == other) > 0, model.__name__
    with session_scope() as session:
        suppressions = {(s.email, s.reason) for s in session.scalars(select(Suppression))}
        events = list(session.scalars(select(EmailEvent)))
        assert is_erased(session, "ADA@example.org")
        assert not is_erased(session, "bob@example.org")
    assert suppressions == {(kept, "erased")}
    # The bounce still counts towards the bounce rate, but no longer says whose it was.
    assert [(e.event_type, e.recipient, e.payload) for e in events] == [("bounce", None, {})]


def test_erasing_twice_changes_nothing_the_second_time(db_url: str):
    subscriber_id = a_reader_with_history()
    with session_scope() as session:
        erase_subscriber(session, subscriber_id)
    with session_scope() as session:
        assert erase_subscriber(session, subscriber_id) is None
    assert count(Suppression) == 1


def test_the_embedding_of_an_erased_readers_own_description_goes_too(db_url: str):
    from newsletter.models import TextEmbedding
    from newsletter.ranking.vectors import digest
    from newsletter.subscriptions.service import Preferences, apply_preferences

    mine = make_subscriber("ada@example.org").id
    with session_scope() as session:
        reader = session.get_one(Subscriber, mine)
        apply_preferences(reader, Preferences(description="my thesis on coral reef acoustics"))
        for text in ("my thesis on coral reef acoustics", "diffusion"):
            session.add(TextEmbedding(model="m", digest=digest(text), text=text, vector=b""))
    with session_scope() as session:
        erase_subscriber(session, mine)
    with session_scope() as session:
        assert [t.text for t in session.scalars(select(TextEmbedding))] == ["diffusion"]
