"""The take-over of issue 11, walked in headless Chromium: a reader moves to a new address;
someone holding an unsubscribe link from an old digest opens it. The page may stop mail
but must not show the new address or lead to the preferences page.
"""

from __future__ import annotations

from typing import Any

import pytest

from newsletter.db import session_scope
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.tokens import make_token
from tests.subscriptions.factories import make_subscriber, outbox_messages, text_of
from tests.web.test_browser import (  # noqa: F401 (fixtures shared with the main browser test)
    LiveServer,
    browser,
    live_server,
    server,
    shot,
)

pytestmark = pytest.mark.browser


def test_an_old_unsubscribe_link_after_an_address_change_reveals_nothing_in_a_browser(
    browser: Any,  # noqa: F811
    server: LiveServer,  # noqa: F811
):
    subscriber = make_subscriber("ines@example.org")
    # The link from a digest sent before the move, as it sits in an old inbox.
    old_unsubscribe = links_for(subscriber.id, subscriber.token_generation).unsubscribe
    old_unsubscribe = old_unsubscribe.replace("https://papers.test", server.url)

    # The reader moves the digest to a new address, through the pages.
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/preferences/{make_token('preferences', subscriber.id, 0)}")
    page.fill("#new_email", "ines.new@example.org")
    page.click("button:has-text('Change address')")
    page.wait_for_selector("text=Check the new inbox")
    [mail] = outbox_messages(server.outbox, "ines.new@example.org")
    assert mail["List-Unsubscribe"] is None  # nothing of the subscriber's before it confirms
    change_url = next(w for w in text_of(mail).split() if "/change-email/" in w)
    page.goto(change_url)
    page.click("text=Yes, use this address")
    page.wait_for_selector("text=your digest now goes to this address")
    context.close()

    # Someone else, with only the old link.
    stranger = browser.new_context(viewport={"width": 1024, "height": 900})
    page = stranger.new_page()
    page.goto(old_unsubscribe)
    page.wait_for_selector("button:has-text('Unsubscribe')")
    shot(page, "11-old-unsubscribe-link")
    html = page.content()
    assert "ines.new@example.org" not in html and "ines@example.org" not in html
    assert page.locator("a[href*='/preferences/']").count() == 0
    # It still does the one thing RFC 8058 asks of it: stop mail, naming no address.
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You're unsubscribed")
    assert "ines.new@example.org" not in page.content()
    assert page.locator("a[href*='/preferences/']").count() == 0
    stranger.close()
    with session_scope() as session:
        moved = session.get_one(Subscriber, subscriber.id)
        assert moved.email == "ines.new@example.org"
        assert moved.status == SubscriberStatus.UNSUBSCRIBED
