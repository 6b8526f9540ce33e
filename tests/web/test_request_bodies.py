"""Oversized and hostile bodies: reading stops at the limit, odd JSON is a 400, never a 500."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.requests import Request

from newsletter import services
from newsletter.db import session_scope
from newsletter.models import EmailEvent
from newsletter.subscriptions.tokens import make_token
from newsletter.web.app import create_app
from newsletter.web.bodies import BodyTooLarge, read_body
from newsletter.web.formdata import FormTooLarge, read_form
from newsletter.web.routes.webhooks import get_sns_verifier
from tests.subscriptions.factories import make_subscriber
from tests.subscriptions.sns_helpers import TOPIC, FakeAws, bounce, notification
from tests.web.conftest import SIGNUP, csrf_of

CHUNK = 64 * 1024


def streamed_request(total: int, headers: list[tuple[bytes, bytes]] | None = None):
    """A request whose body arrives in 64 KB chunks made on demand; counts what was pulled."""
    pulled = {"bytes": 0}

    async def receive() -> dict[str, Any]:
        size = min(CHUNK, total - pulled["bytes"])
        pulled["bytes"] += size
        more = pulled["bytes"] < total
        return {"type": "http.request", "body": b"a" * size, "more_body": more}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    return Request(scope, receive), pulled


def test_a_fifty_megabyte_body_is_dropped_after_the_limit_without_being_held():
    request, pulled = streamed_request(50 * 1024 * 1024)
    tracemalloc.start()
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(request, 256 * 1024))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert pulled["bytes"] <= 256 * 1024 + CHUNK
    assert peak < 2 * 1024 * 1024


def test_a_form_body_over_the_limit_is_dropped_without_a_content_length():
    urlencoded = [(b"content-type", b"application/x-www-form-urlencoded")]
    request, pulled = streamed_request(50 * 1024 * 1024, urlencoded)
    with pytest.raises(FormTooLarge):
        asyncio.run(read_form(request))
    assert pulled["bytes"] <= 64 * 1024 + CHUNK


def test_an_announced_oversized_body_is_refused_before_reading_any_of_it():
    headers = [(b"content-length", str(50 * 1024 * 1024).encode())]
    request, pulled = streamed_request(50 * 1024 * 1024, headers)
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(request, 256 * 1024))
    assert pulled["bytes"] == 0


@pytest.mark.parametrize("path", ["/signup", "preferences", "unsubscribe"])
def test_every_oversized_form_gets_a_413(client: TestClient, path: str):
    subscriber = make_subscriber()
    if path == "preferences":
        path = f"/preferences/{make_token('preferences', subscriber.id, 0)}"
    elif path == "unsubscribe":
        path = f"/unsubscribe/{make_token('unsubscribe', subscriber.id, 0)}"
    token = csrf_of(client.get("/signup").text)
    form = {**SIGNUP, "description": "x" * 100_000, "csrf_token": token}
    response = client.post(path, data=form)
    assert response.status_code == 413
    if path == "/signup":
        assert "That form is too large" in response.text
        assert response.headers["content-security-policy"]


@pytest.fixture
def sns_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARN", TOPIC)

    services.reset()
    app = create_app()
    verifier = FakeAws().verifier()
    app.dependency_overrides[get_sns_verifier] = lambda: verifier
    with TestClient(app) as client:
        yield client


def post_raw(client: TestClient, body: bytes):
    headers = {"content-type": "text/plain; charset=UTF-8"}
    return client.post("/webhooks/ses", content=body, headers=headers)


def stored_events() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(EmailEvent)) or 0)


def test_deeply_nested_json_without_a_signature_is_a_400(sns_client: TestClient):
    response = post_raw(sns_client, b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    assert "nested" in response.json()["error"]


def test_an_oversized_webhook_body_is_a_413(sns_client: TestClient):
    assert post_raw(sns_client, b" " * (300 * 1024)).status_code == 413


@pytest.mark.parametrize(
    "case",
    [
        "nul-in-message-id",
        "surrogate-in-message-id",
        "nul-in-ses-id",
        "nested-message",
        "long-message-id",
        "long-ses-id",
        "long-recipient",
    ],
)
def test_a_signed_message_that_cannot_be_stored_is_a_400(
    db_url: str, sns_client: TestClient, case: str
):
    event = bounce(["reader@example.org"])
    overrides: dict[str, Any] = {}
    if case == "nul-in-message-id":
        overrides["message_id"] = "sns-\x00-1"
    elif case == "surrogate-in-message-id":
        overrides["message_id"] = "sns-surrogate-1"  # unsignable: swapped in below
    elif case == "nul-in-ses-id":
        event["mail"]["messageId"] = "ses-\x00"
    elif case == "long-message-id":
        overrides["message_id"] = "x" * 300
    elif case == "long-ses-id":
        event["mail"]["messageId"] = "x" * 300
    elif case == "long-recipient":
        event["bounce"]["bouncedRecipients"][0]["emailAddress"] = "x" * 400 + "@example.org"
    message: Any = event
    if case == "nested-message":
        message = "[" * 50_000 + "]" * 50_000
    text = json.dumps(notification(message, **overrides))
    body = text.replace("sns-surrogate-1", "sns-\\ud800-1").encode()
    response = post_raw(sns_client, body)
    assert response.status_code == 400
    assert stored_events() == 0
