"""Simultaneous requests on SQLite and PostgreSQL: one email per slot, the last save wins.

Real threads, each with its own database connection, released together by a barrier;
the outbox counts what was really sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsletter.db import ensure_schema
from newsletter.models import SubscriberStatus
from newsletter.subscriptions.service import Preferences, apply_preferences, preferences_of
from newsletter.subscriptions.signup import (
    ConfirmOutcome,
    confirm,
    confirm_email_change,
    request_email_change,
    request_signup,
    unsubscribe_by_token,
)
from newsletter.subscriptions.tokens import InvalidToken, make_token, read_token
from newsletter.web.routes import preferences as preferences_route
from tests.subscriptions.factories import link_in, make_subscriber, outbox_messages, reload

PREFS = Preferences(keywords=["diffusion"], timezone="Europe/Berlin")


@pytest.fixture
def schema(db_url: str) -> str:
    ensure_schema()
    return db_url


def at_once(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run `action(i)` in `count` threads released at the same moment; re-raise failures."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


def test_ten_simultaneous_signups_of_a_new_address_send_one_confirmation(
    schema: str, isolated_settings: Path
):
    at_once(10, lambda _: request_signup("new@example.org", PREFS))
    assert len(outbox_messages(isolated_settings, "new@example.org")) == 1


def test_ten_simultaneous_signups_of_an_active_reader_send_one_welcome(
    schema: str, isolated_settings: Path
):
    make_subscriber("reader@example.org")
    at_once(10, lambda _: request_signup("reader@example.org", PREFS))
    assert len(outbox_messages(isolated_settings, "reader@example.org")) == 1


def test_simultaneous_confirmations_send_one_welcome(schema: str, isolated_settings: Path):
    request_signup("new@example.org", PREFS)
    [mail] = outbox_messages(isolated_settings)
    next(isolated_settings.glob("*.eml")).unlink()
    token = link_in(mail, "confirm").rsplit("/", 1)[1]
    results = at_once(5, lambda _: confirm(token))
    assert [r.outcome for r in results].count(ConfirmOutcome.CONFIRMED) == 1
    [welcome] = outbox_messages(isolated_settings)
    assert welcome["Subject"] == "Welcome to your trending-papers digest"


def test_simultaneous_one_click_unsubscribes_send_one_goodbye(schema: str, isolated_settings: Path):
    subscriber = make_subscriber("reader@example.org")
    token = make_token("unsubscribe", subscriber.id, subscriber.token_generation)
    results = at_once(3, lambda _: unsubscribe_by_token(token))
    assert sum(r.changed for r in results) == 1
    assert len(outbox_messages(isolated_settings)) == 1
    after = reload(subscriber.id)
    assert after.status == SubscriberStatus.UNSUBSCRIBED
    assert after.token_generation == 1  # bumped once, not once per request


def test_two_simultaneous_preference_saves_keep_one_form_whole(
    schema: str, monkeypatch: pytest.MonkeyPatch
):
    subscriber = make_subscriber("reader@example.org", keywords=("old",))
    token = make_token("preferences", subscriber.id, subscriber.token_generation)
    forms = [
        Preferences(keywords=["first", "shared"], timezone="UTC"),
        Preferences(keywords=["second", "shared"], timezone="Asia/Tokyo"),
    ]

    def slow_apply(target: Any, prefs: Preferences) -> None:
        # Widen the window between reading the interests and writing them, as a slow
        # request would: both saves have read before either writes.
        time.sleep(0.3)
        apply_preferences(target, prefs)

    monkeypatch.setattr(preferences_route, "apply_preferences", slow_apply)
    at_once(2, lambda i: preferences_route.save_preferences(token, forms[i]))
    stored = preferences_of(reload(subscriber.id))
    assert (sorted(stored.keywords), stored.timezone) in [
        (["first", "shared"], "UTC"),
        (["second", "shared"], "Asia/Tokyo"),
    ]


def test_two_simultaneous_uses_of_a_change_address_link_move_it_once(
    schema: str, isolated_settings: Path
):
    subscriber = make_subscriber("old@example.org")
    preferences = make_token("preferences", subscriber.id, 0)
    request_email_change(preferences, "new@example.org")
    [mail] = outbox_messages(isolated_settings, "new@example.org")
    token = link_in(mail, "change-email").rsplit("/", 1)[1]

    def use(_: int) -> str:
        try:
            return confirm_email_change(token)[1]
        except InvalidToken:
            return "refused"

    results = at_once(2, use)
    assert results.count("refused") == 1
    after = reload(subscriber.id)
    assert (after.email, after.token_generation) == ("new@example.org", 1)
    # The winner's fresh preferences link works: nothing bumped the generation again.
    [fresh] = [r for r in results if r != "refused"]
    assert read_token("preferences", fresh).generation == after.token_generation
