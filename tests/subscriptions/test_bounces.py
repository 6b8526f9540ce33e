"""SES events: permanent bounces and complaints suppress for good; repeats change nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import EmailEvent, SubscriberStatus, Suppression
from newsletter.subscriptions.bounces import EventOutcome, parse_ses_event, record_ses_event
from newsletter.subscriptions.service import unsubscribe
from tests.subscriptions.factories import make_sent_digest, make_subscriber, reload
from tests.subscriptions.sns_helpers import bounce, complaint, delivery


def record(notification_id: str, event: dict | str) -> EventOutcome:
    message = event if isinstance(event, str) else json.dumps(event)
    with session_scope() as session:
        return record_ses_event(session, notification_id, message)


def suppressions() -> dict[str, str]:
    with session_scope() as session:
        return {s.email: s.reason for s in session.scalars(select(Suppression))}


def events() -> list[EmailEvent]:
    with session_scope() as session:
        return list(session.scalars(select(EmailEvent).order_by(EmailEvent.id)))


@pytest.mark.parametrize("shape", ["notificationType", "eventType"])
def test_both_ses_event_shapes_parse_the_same(shape: str):
    event = parse_ses_event(json.dumps(bounce(["A@Example.org"], shape=shape)))
    assert event.event_type == "bounce"
    assert event.recipients == ["a@example.org"]
    assert event.permanent
    assert event.message_id == "ses-message-1"
    assert event.detail.startswith("Permanent/General: smtp; 550")
    assert parse_ses_event(json.dumps(complaint(["b@example.org"], shape=shape))).permanent
    assert not parse_ses_event(json.dumps(delivery(["b@example.org"], shape=shape))).permanent


def test_a_permanent_bounce_suppresses_the_address_and_marks_the_subscriber(db_url: str):
    subscriber = make_subscriber("reader@example.org")
    delivery_id = make_sent_digest(subscriber.id, [("2411.00001", "P")], message_id="ses-1")
    outcome = record("sns-1", bounce(["Reader@example.org"], message_id="ses-1"))
    assert outcome == EventOutcome.SUPPRESSED
    assert suppressions() == {"reader@example.org": "bounce"}
    assert reload(subscriber.id).status == SubscriberStatus.BOUNCED
    [event] = events()
    assert (event.event_type, event.provider_message_id) == ("bounce", "ses-1")
    assert event.payload["_delivery_id"] == delivery_id  # correlated by SES MessageId


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_transient_bounces_are_recorded_only(db_url: str, bounce_type: str):
    subscriber = make_subscriber("reader@example.org")
    assert record("sns-1", bounce(["reader@example.org"], bounce_type=bounce_type)) == (
        EventOutcome.RECORDED
    )
    assert suppressions() == {}
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    assert len(events()) == 1


def test_several_transient_bounces_in_a_row_suppress_the_address(
    db_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NEWSLETTER_TRANSIENT_BOUNCE_LIMIT", "3")
    get_settings.cache_clear()
    subscriber = make_subscriber("reader@example.org")
    soft = {"bounce_type": "Transient"}
    assert record("sns-1", bounce(["reader@example.org"], **soft)) == EventOutcome.RECORDED
    assert record("sns-2", bounce(["reader@example.org"], **soft)) == EventOutcome.RECORDED
    # A delivery in between: the bounces were not "in a row".
    record("sns-3", delivery(["reader@example.org"]))
    assert record("sns-4", bounce(["reader@example.org"], **soft)) == EventOutcome.RECORDED
    assert record("sns-5", bounce(["reader@example.org"], **soft)) == EventOutcome.RECORDED
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE
    # A repeated notification counts once.
    assert record("sns-5", bounce(["reader@example.org"], **soft)) == EventOutcome.DUPLICATE
    assert record("sns-6", bounce(["reader@example.org"], **soft)) == EventOutcome.SUPPRESSED
    assert suppressions() == {"reader@example.org": "bounce"}
    assert reload(subscriber.id).status == SubscriberStatus.BOUNCED


def test_transient_bounces_never_suppress_when_the_limit_is_zero(
    db_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NEWSLETTER_TRANSIENT_BOUNCE_LIMIT", "0")
    get_settings.cache_clear()
    subscriber = make_subscriber("reader@example.org")
    for n in range(8):
        record(f"sns-{n}", bounce(["reader@example.org"], bounce_type="Transient"))
    assert suppressions() == {}
    assert reload(subscriber.id).status == SubscriberStatus.ACTIVE


def test_a_complaint_suppresses_even_an_unsubscribed_address_for_good(db_url: str):
    subscriber = make_subscriber("reader@example.org")
    with session_scope() as session:
        from newsletter.models import Subscriber

        unsubscribe(session, session.get_one(Subscriber, subscriber.id))
    assert suppressions() == {"reader@example.org": "unsubscribe"}
    assert record("sns-1", complaint(["reader@example.org"])) == EventOutcome.SUPPRESSED
    # Upgraded: re-subscribing removes unsubscribe suppressions, never complaint ones.
    assert suppressions() == {"reader@example.org": "complaint"}
    assert reload(subscriber.id).status == SubscriberStatus.COMPLAINED
    # A later bounce does not weaken it.
    record("sns-2", bounce(["reader@example.org"]))
    assert suppressions() == {"reader@example.org": "complaint"}
    assert reload(subscriber.id).status == SubscriberStatus.COMPLAINED


def test_a_repeated_notification_is_stored_once_and_changes_nothing(db_url: str):
    make_subscriber("reader@example.org")
    assert record("sns-1", bounce(["reader@example.org"])) == EventOutcome.SUPPRESSED
    assert record("sns-1", bounce(["reader@example.org"])) == EventOutcome.DUPLICATE
    assert len(events()) == 1
    assert suppressions() == {"reader@example.org": "bounce"}


def test_out_of_order_events_never_undo_a_suppression(db_url: str):
    subscriber = make_subscriber("reader@example.org")
    record("sns-2", complaint(["reader@example.org"]))
    # The delivery notification for the same message arrives afterwards.
    assert record("sns-1", delivery(["reader@example.org"])) == EventOutcome.RECORDED
    assert reload(subscriber.id).status == SubscriberStatus.COMPLAINED
    assert suppressions() == {"reader@example.org": "complaint"}
    assert [e.event_type for e in events()] == ["complaint", "delivery"]


def test_one_notification_can_name_several_recipients(db_url: str):
    make_subscriber("a@example.org")
    make_subscriber("b@example.org")
    record("sns-1", bounce(["a@example.org", "b@example.org"]))
    assert suppressions() == {"a@example.org": "bounce", "b@example.org": "bounce"}
    assert reload(1).status == reload(2).status == SubscriberStatus.BOUNCED


def test_a_bounce_for_an_address_we_do_not_know_is_still_suppressed(db_url: str):
    record("sns-1", bounce(["stranger@example.org"]))
    assert suppressions() == {"stranger@example.org": "bounce"}


def test_a_signed_but_unreadable_message_is_kept_for_a_human(db_url: str):
    assert record("sns-1", "this is not json") == EventOutcome.RECORDED
    assert record("sns-2", json.dumps({"no": "type"})) == EventOutcome.RECORDED
    assert [e.event_type for e in events()] == ["unparsed", "unparsed"]
    assert suppressions() == {}


def test_other_event_types_are_recorded(db_url: str):
    send = {"eventType": "Send", "mail": {"messageId": "m"}, "send": {}}
    assert record("sns-1", send) == EventOutcome.RECORDED
    delay = {
        "eventType": "DeliveryDelay",
        "mail": {"messageId": "m"},
        "deliveryDelay": {"delayedRecipients": [{"emailAddress": "x@example.org"}]},
    }
    assert record("sns-2", delay) == EventOutcome.RECORDED
    assert [(e.event_type, e.recipient) for e in events()] == [
        ("send", None),
        ("deliverydelay", "x@example.org"),
    ]
