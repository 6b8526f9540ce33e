"""/admin actions on sending: pause with a reason, resume, an edition's progress and retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.delivery import breaker
from newsletter.models import AdminAction, Delivery, DeliveryState
from newsletter.operations.editions import progress
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import make_sent_digest, make_subscriber, outbox_messages
from tests.web.admin_support import admin, post

__all__ = ["admin"]


def logged() -> list[tuple[str, str | None, str | None]]:
    with session_scope() as session:
        rows = session.scalars(select(AdminAction).order_by(AdminAction.id))
        return [(r.action, r.target, r.actor) for r in rows]


def deliveries_in(states: list[str]) -> list[int]:
    """One reader per state, each with a delivery of edition daily-2026-11-25 in that state."""
    ids = []
    for n, state in enumerate(states):
        reader = make_subscriber(f"r{n}@example.org")
        with session_scope() as session:
            if n:  # the factory makes the edition once; reuse it for the others
                first = session.get_one(Delivery, ids[0])
                delivery = Delivery(
                    edition_id=first.edition_id, subscriber_id=reader.id, papers=first.papers
                )
                session.add(delivery)
                session.flush()
                ids.append(delivery.id)
        if not n:
            ids.append(make_sent_digest(reader.id, [("2411.00001", "Diffusion")]))
        with session_scope() as session:
            delivery = session.get_one(Delivery, ids[-1])
            delivery.state = state
            delivery.sent_at = utcnow() - timedelta(minutes=2) if state == "sent" else None
    return ids


def state_of(delivery_id: int) -> str:
    with session_scope() as session:
        return session.get_one(Delivery, delivery_id).state


def test_a_post_without_the_forms_csrf_token_changes_nothing(admin: TestClient):
    make_subscriber()
    response = admin.post("/admin/sending/pause", data={"reason": "x"}, follow_redirects=False)
    assert response.status_code == 400 and "Nothing was done" in response.text
    with session_scope() as session:
        assert not breaker.read(session).is_open()
    assert logged() == []


def test_actions_need_the_admin_password(admin: TestClient):
    response = admin.post("/admin/sending/resume", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401


def test_an_operator_pauses_sending_with_a_reason_everyone_sees_and_resumes_it(
    admin: TestClient,
):
    make_subscriber()
    refused = post(admin, "/admin/sending/pause", {"reason": "  "})
    assert refused.status_code == 400 and "Say why" in refused.text
    response = post(admin, "/admin/sending/pause", {"reason": "SES review of our bounce rate"})
    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert "Done: pause sending" in page
    assert "sending: PAUSED" in page and "SES review of our bounce rate" in page
    assert "Resume sending" in page
    with session_scope() as session:
        state = breaker.read(session)
    assert state.is_open() and "admin from testclient" in (state.reason or "")

    response = post(admin, "/admin/sending/resume", {})
    page = admin.get(response.headers["location"]).text
    assert "Done: resume sending" in page and "sending resumed; 0 pending" in page
    assert "Pause sending" in page
    assert [a for a, _, _ in logged()] == ["pause sending", "resume sending"]
    assert logged()[0][2] == "admin from testclient"


def test_an_overlong_or_multi_line_reason_is_refused_with_a_clear_message(admin: TestClient):
    make_subscriber()
    for reason in ("x" * 201, "one\nline\x00"):
        response = post(admin, "/admin/sending/pause", {"reason": reason})
        assert response.status_code == 400 and "one line of at most 200" in response.text


def test_an_editions_progress_counts_each_state_and_estimates_the_end(admin: TestClient):
    deliveries_in(["sent", "sent", "pending", "pending", "failed", "uncertain", "suppressed"])
    with session_scope() as session:
        [edition] = progress(session, utcnow())
    assert (edition.sent, edition.pending, edition.failed) == (2, 2, 1)
    assert (edition.uncertain, edition.suppressed, edition.total) == (1, 1, 7)
    # 2 sent in the last 10 minutes: 0.2/min, so 2 pending take 10 more minutes.
    assert edition.rate_per_minute == pytest.approx(0.2)
    assert edition.eta is not None
    assert edition.eta - utcnow() == pytest.approx(timedelta(minutes=10), abs=timedelta(seconds=5))
    page = admin.get("/admin").text
    assert "Retry 1 failed" in page and "Retry 1 uncertain" in page
    assert "some readers may get this edition twice" in page


def test_retrying_failed_deliveries_sends_them_and_logs_who_did_it(
    admin: TestClient, isolated_settings
):
    _sent, failed = deliveries_in(["sent", "failed"])
    with session_scope() as session:
        edition_id = session.get_one(Delivery, failed).edition_id
    response = post(admin, f"/admin/editions/{edition_id}/retry", {"which": "failed"})
    assert response.status_code == 303
    assert state_of(failed) == DeliveryState.SENT
    assert [m["To"] for m in outbox_messages(isolated_settings)] == ["r1@example.org"]
    page = admin.get(response.headers["location"]).text
    assert "Done: retry failed (edition" in page and "reopened 1 failed deliveries" in page
    assert logged() == [("retry failed", f"edition {edition_id}", "admin from testclient")]


def test_retrying_uncertain_deliveries_needs_the_operator_to_accept_doubles(admin: TestClient):
    _, uncertain = deliveries_in(["sent", "uncertain"])
    with session_scope() as session:
        edition_id = session.get_one(Delivery, uncertain).edition_id
    path = f"/admin/editions/{edition_id}/retry"
    refused = post(admin, path, {"which": "uncertain"})
    assert refused.status_code == 400 and "may get this edition twice" in refused.text
    assert state_of(uncertain) == DeliveryState.UNCERTAIN
    assert post(admin, path, {"which": "uncertain", "understood": "yes"}).status_code == 303
    assert state_of(uncertain) == DeliveryState.SENT
    assert post(admin, path, {"which": "sent"}).status_code == 400
    assert post(admin, "/admin/editions/999/retry", {"which": "failed"}).status_code == 404
