"""/admin/readers: find a reader by address, see their deliveries, and act on them."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import AdminAction, Subscriber, SubscriberStatus, Suppression
from newsletter.subscriptions.bounces import record_ses_event
from newsletter.subscriptions.erasure import address_hash
from tests.subscriptions.factories import (
    link_in,
    make_sent_digest,
    make_subscriber,
    outbox_messages,
)
from tests.subscriptions.sns_helpers import delivery
from tests.web.admin_support import admin, post

__all__ = ["admin"]


def reader_with_a_digest() -> int:
    reader = make_subscriber("ada@example.org", keywords=("diffusion",))
    make_sent_digest(reader.id, [("2411.00001", "Diffusion")], message_id="ses-message-1")
    with session_scope() as session:
        record_ses_event(session, "sns-1", json.dumps(delivery(["ada@example.org"])))
    return reader.id


def suppression_of(address: str) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Suppression.reason).where(Suppression.email == address))


def status_of(subscriber_id: int) -> str | None:
    with session_scope() as session:
        reader = session.get(Subscriber, subscriber_id)
        return reader.status if reader else None


def test_finding_a_reader_shows_status_interests_message_ids_and_events(admin: TestClient):
    reader_with_a_digest()
    page = admin.get("/admin/readers", params={"email": " ADA@example.org "}).text
    assert "<h2>ada@example.org</h2>" in page
    assert "<strong>active</strong>" in page
    assert "diffusion" in page and "daily-2026-11-25" in page
    assert "<code>ses-message-1</code>" in page and "delivery 20" in page  # the SES event
    missing = admin.get("/admin/readers", params={"email": "nobody@example.org"}).text
    assert "No reader has the address" in missing
    bad = admin.get("/admin/readers", params={"email": "not an address"})
    assert bad.status_code == 400 and "Enter a valid address" in bad.text
    assert admin.get("/admin/readers/999").status_code == 404


def test_the_preferences_link_is_mailed_again_to_an_active_reader(
    admin: TestClient, isolated_settings
):
    subscriber_id = reader_with_a_digest()
    page = f"/admin/readers/{subscriber_id}"
    response = post(admin, f"{page}/links", {}, page=page)
    assert response.status_code == 303
    assert "preferences link queued" in admin.get(response.headers["location"]).text
    [mail] = outbox_messages(isolated_settings, "ada@example.org")
    assert mail["Subject"] == "Your trending-papers preferences link"
    assert admin.get(link_in(mail, "preferences")).status_code == 200


def test_an_address_is_suppressed_and_unsuppressed_by_hand(admin: TestClient):
    subscriber_id = reader_with_a_digest()
    page = f"/admin/readers/{subscriber_id}"
    post(admin, f"{page}/suppress", {"detail": "asked by email to stop"}, page=page)
    assert suppression_of("ada@example.org") == "manual"
    assert "asked by email to stop" in admin.get(page).text
    response = post(admin, f"{page}/unsuppress", {}, page=page)
    assert "suppression lifted" in admin.get(response.headers["location"]).text
    assert suppression_of("ada@example.org") is None


def test_unsuppressing_a_bounced_reader_makes_them_active_again(admin: TestClient):
    subscriber_id = reader_with_a_digest()
    with session_scope() as session:
        session.get_one(Subscriber, subscriber_id).status = SubscriberStatus.BOUNCED
        session.add(Suppression(email="ada@example.org", reason="bounce"))
    page = f"/admin/readers/{subscriber_id}"
    post(admin, f"{page}/unsuppress", {}, page=page)
    assert status_of(subscriber_id) == SubscriberStatus.ACTIVE


def test_an_operator_unsubscribes_a_reader_who_then_gets_the_goodbye(
    admin: TestClient, isolated_settings
):
    subscriber_id = reader_with_a_digest()
    page = f"/admin/readers/{subscriber_id}"
    post(admin, f"{page}/unsubscribe", {}, page=page)
    assert status_of(subscriber_id) == SubscriberStatus.UNSUBSCRIBED
    assert suppression_of("ada@example.org") == "unsubscribe"
    subjects = [m["Subject"] for m in outbox_messages(isolated_settings, "ada@example.org")]
    assert subjects == ["You're unsubscribed"]


def test_an_export_is_a_json_download_and_is_logged(admin: TestClient):
    subscriber_id = reader_with_a_digest()
    page = f"/admin/readers/{subscriber_id}"
    response = post(admin, f"{page}/export", {}, page=page)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    data = response.json()
    assert data["profile"]["email"] == "ada@example.org"
    assert data["deliveries"][0]["message_id"] == "ses-message-1"
    with session_scope() as session:
        [row] = session.scalars(select(AdminAction))
        assert (row.action, row.target) == ("export", f"subscriber {subscriber_id}")


def test_deleting_a_reader_needs_a_tick_and_then_keeps_only_the_hash(admin: TestClient):
    subscriber_id = reader_with_a_digest()
    page = f"/admin/readers/{subscriber_id}"
    refused = post(admin, f"{page}/delete", {}, page=page)
    assert refused.status_code == 400 and status_of(subscriber_id) is not None
    response = post(admin, f"{page}/delete", {"understood": "yes"}, page=page)
    assert response.status_code == 303 and response.headers["location"].startswith("/admin?")
    assert status_of(subscriber_id) is None
    assert suppression_of(address_hash("ada@example.org")) == "erased"
    found = admin.get("/admin/readers", params={"email": "ada@example.org"}).text
    assert "was <strong>erased</strong>" in found
    landing = admin.get(response.headers["location"]).text
    assert "Done: delete (subscriber" in landing
    assert "ada@example.org" not in landing  # the action log names no address


def test_an_unknown_action_or_reader_is_refused_clearly(admin: TestClient):
    subscriber_id = reader_with_a_digest()
    assert post(admin, f"/admin/readers/{subscriber_id}/explode", {}).status_code == 404
    assert post(admin, "/admin/readers/999/suppress", {}).status_code == 404


def test_no_link_is_mailed_to_a_suppressed_or_stopped_reader(admin: TestClient, isolated_settings):
    subscriber_id = reader_with_a_digest()
    page = f"/admin/readers/{subscriber_id}"
    post(admin, f"{page}/suppress", {}, page=page)
    assert "Email the preferences link" not in admin.get(page).text
    refused = post(admin, f"{page}/links", {}, page=page)
    assert refused.status_code == 400 and "lift the suppression first" in refused.text
    with session_scope() as session:
        session.get_one(Subscriber, subscriber_id).status = SubscriberStatus.BOUNCED
    refused = post(admin, f"{page}/links", {}, page=page)
    assert refused.status_code == 400 and "this one is bounced" in refused.text
    assert outbox_messages(isolated_settings, "ada@example.org") == []
