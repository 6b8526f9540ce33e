"""An operator and a reader in headless Chromium: every /admin action, and the reader's data.

Same live server as tests/web/test_browser.py (uvicorn in its own process, SQLite, the
file backend's outbox). Screenshots go to test-artifacts/admin/.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.delivery import breaker
from newsletter.models import (
    AdminAction,
    Delivery,
    DeliveryState,
    Edition,
    EmailEvent,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscriptions.erasure import address_hash
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import link_in, make_subscriber, outbox_messages
from tests.web.test_browser import (
    ADMIN_PASSWORD,
    ROOT,
    LiveServer,
    browser,
    live_server,
    no_horizontal_overflow,
    server,
)

__all__ = ["browser", "live_server", "server"]

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "admin"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def a_month_of_history() -> tuple[int, int]:
    """30 daily editions of 40 readers with some bounces and complaints, and today's edition
    in every state; return (today's edition id, the reader ada's id)."""
    rng = random.Random(15)
    now = utcnow()
    readers = [make_subscriber(f"r{n}@example.org").id for n in range(40)]
    ada = make_subscriber("ada@example.org", keywords=("diffusion", "optimal transport")).id
    with session_scope() as session:
        for days_ago in range(30, 0, -1):
            day = now - timedelta(days=days_ago)
            edition = Edition(
                key=f"daily-{day:%Y-%m-%d}", frequency="daily", window_start=day,
                window_end=day, opened_at=day,
            )  # fmt: skip
            session.add(edition)
            session.flush()
            for reader in readers:
                session.add(
                    Delivery(
                        edition_id=edition.id, subscriber_id=reader, state=DeliveryState.SENT,
                        papers=[], sent_at=day + timedelta(minutes=rng.randint(0, 600)),
                    )
                )  # fmt: skip
            for n in range(rng.choice([0, 0, 1, 1, 2, 3])):
                session.add(
                    EmailEvent(
                        notification_id=f"b-{days_ago}-{n}", event_type="bounce",
                        detail="Permanent/General", received_at=day, payload={},
                    )
                )  # fmt: skip
            if days_ago in (4, 11):
                session.add(
                    EmailEvent(
                        notification_id=f"c-{days_ago}", event_type="complaint",
                        detail="abuse", received_at=day, payload={},
                    )
                )  # fmt: skip
        today = Edition(
            key=f"daily-{now:%Y-%m-%d}", frequency="daily", window_start=now, window_end=now,
            opened_at=now - timedelta(hours=3),
        )  # fmt: skip
        session.add(today)
        session.flush()
        states = [DeliveryState.SENT] * 25 + [DeliveryState.PENDING] * 10
        states += [DeliveryState.FAILED] * 2 + [DeliveryState.UNCERTAIN, DeliveryState.SUPPRESSED]
        for reader, state in zip(readers, states, strict=False):
            sent = state == DeliveryState.SENT
            minutes = rng.randint(1, 9) if reader % 3 else rng.randint(10, 170)
            session.add(
                Delivery(
                    edition_id=today.id, subscriber_id=reader, state=state,
                    papers=[{"arxiv_id": "2411.00001", "score": 1.0, "reason": "test"}],
                    sent_at=now - timedelta(minutes=minutes) if sent else None,
                    last_error="MessageRejected" if state == DeliveryState.FAILED else None,
                )
            )  # fmt: skip
        session.add(
            Delivery(
                edition_id=today.id, subscriber_id=ada, state=DeliveryState.SENT,
                papers=[{"arxiv_id": "2411.00001", "score": 1.0, "reason": "test"}],
                provider_message_id="0100018c-ses-ada", sent_at=now - timedelta(minutes=30),
            )
        )  # fmt: skip
        session.add(
            EmailEvent(
                notification_id="d-ada", provider_message_id="0100018c-ses-ada",
                event_type="delivery", recipient="ada@example.org", detail="250 ok",
                payload={},
            )
        )  # fmt: skip
        return today.id, ada


def states(edition_id: int) -> dict[str, int]:
    with session_scope() as session:
        rows = session.scalars(select(Delivery.state).where(Delivery.edition_id == edition_id))
        out: dict[str, int] = {}
        for state in rows:
            out[state] = out.get(state, 0) + 1
        return out


def done(page: Any, text: str) -> None:
    page.wait_for_selector(f"[role=status]:has-text('{text}')")


def test_an_operator_uses_every_admin_action(browser: Any, server: LiveServer):
    edition_id, ada = a_month_of_history()
    context = browser.new_context(
        http_credentials={"username": "admin", "password": ADMIN_PASSWORD},
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    page = context.new_page()
    page.goto(f"{server.url}/admin")
    assert page.locator("svg[role=img]").count() == 3
    assert no_horizontal_overflow(page)
    shot(page, "01-admin-overview")
    page.locator(".charts").screenshot(path=str(ARTIFACTS / "01b-charts.png"))

    # Pause, with the reason everyone sees; then resume.
    page.click("button:has-text('Pause sending')")  # no reason: the browser asks for one
    assert page.url == f"{server.url}/admin"
    page.fill("#pause-reason", "SES asked about our bounce rate")
    page.click("button:has-text('Pause sending')")
    done(page, "Done: pause sending")
    assert "SES asked about our bounce rate" in page.locator("#sending ~ div").first.inner_text()
    shot(page, "02-paused")
    with session_scope() as session:
        assert breaker.read(session).is_open()
    page.click("button:has-text('Resume sending')")
    done(page, "Done: resume sending")
    with session_scope() as session:
        assert not breaker.read(session).is_open()

    # Retry the failed rows, then the uncertain one (after accepting doubles).
    page.click("button:has-text('Retry 2 failed')")
    done(page, "Done: retry failed")
    assert states(edition_id).get("failed") is None
    page.click("button:has-text('Retry 1 uncertain')")  # the box is not ticked: nothing
    assert states(edition_id)["uncertain"] == 1
    page.check("input[name=understood]")
    page.click("button:has-text('Retry 1 uncertain')")
    done(page, "Done: retry uncertain")
    assert states(edition_id).get("uncertain") is None
    shot(page, "03-retried")

    # Find a reader, and act on them.
    page.fill("#reader-email", "ADA@example.org")
    page.click("button:has-text('Find')")
    page.wait_for_selector("h2:has-text('ada@example.org')")
    assert "0100018c-ses-ada" in page.content() and "250 ok" in page.content()
    assert no_horizontal_overflow(page)
    shot(page, "04-reader")
    page.click("button:has-text('Email the preferences link')")
    done(page, "preferences link queued")
    [mail] = outbox_messages(server.outbox, "ada@example.org")
    assert mail["Subject"] == "Your trending-papers preferences link"
    assert "/preferences/" in link_in(mail, "preferences")
    page.fill("#suppress-detail", "asked by email to pause")
    page.click("button:has-text('Suppress')")
    done(page, "address suppressed")
    assert "asked by email to pause" in page.content()
    shot(page, "05-reader-suppressed")
    page.click("button:has-text('Unsuppress')")
    done(page, "suppression lifted")
    with page.expect_download() as download:
        page.click("button:has-text('Export data (JSON)')")
    data = json.loads(Path(download.value.path()).read_text())
    assert data["profile"]["email"] == "ada@example.org"
    assert data["deliveries"][0]["message_id"] == "0100018c-ses-ada"
    page.click("button:has-text('Unsubscribe')")
    done(page, "unsubscribed")
    with session_scope() as session:
        assert session.get_one(Subscriber, ada).status == SubscriberStatus.UNSUBSCRIBED
    page.check("input[name=understood]")
    page.click("button:has-text('Delete reader')")
    done(page, "Done: delete")
    with session_scope() as session:
        assert session.get(Subscriber, ada) is None
        actions = [a.action for a in session.scalars(select(AdminAction).order_by(AdminAction.id))]
    assert actions == [
        "pause sending", "resume sending", "retry failed", "retry uncertain", "resend links",
        "suppress", "unsuppress", "export", "unsubscribe", "delete",
    ]  # fmt: skip
    page.locator("#actions").scroll_into_view_if_needed()
    shot(page, "06-after-delete")
    context.close()


def test_a_reader_downloads_their_data_and_deletes_themselves(browser: Any, server: LiveServer):
    reader = make_subscriber("grace@example.org", keywords=("graph neural networks",))
    token = make_token("preferences", reader.id, 0)
    context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server.url}/preferences/{token}")
    page.locator("#data").scroll_into_view_if_needed()
    with page.expect_download() as download:
        page.click("button:has-text('Download my data')")
    data = json.loads(Path(download.value.path()).read_text())
    assert data["profile"]["email"] == "grace@example.org"
    assert data["profile"]["interests"] == {"keyword": ["graph neural networks"]}
    assert {"feedback", "deliveries"} <= set(data)
    shot(page, "07-reader-data-section")
    page.click("text=Delete me")
    page.wait_for_selector("h1:has-text('Delete everything about you?')")
    assert no_horizontal_overflow(page)
    shot(page, "08-reader-delete-confirm")
    with session_scope() as session:
        assert session.get(Subscriber, reader.id) is not None
    page.click("button:has-text('Yes, delete everything')")
    page.wait_for_selector("h1:has-text('Your data is deleted')")
    shot(page, "09-reader-deleted")
    with session_scope() as session:
        assert session.get(Subscriber, reader.id) is None
        kept = session.scalar(
            select(Suppression.reason).where(Suppression.email == address_hash("grace@example.org"))
        )
    assert kept == "erased"
    context.close()
