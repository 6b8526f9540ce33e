"""Property: no form, token or webhook input gets a 5xx, and a 4xx never changes anything.

Hypothesis posts random and hostile values (control characters, NUL, markup, huge and
odd numbers, forged, cut and cross-purpose tokens, deep or odd JSON) to every public
route that takes input, on SQLite and on PostgreSQL. Before and after each request the
whole database is read back: a refused request (4xx) must leave it exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from newsletter import services
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import Base, Subscriber
from newsletter.subscriptions.tokens import make_token
from newsletter.web.app import create_app
from newsletter.web.routes.webhooks import get_sns_verifier
from tests.subscriptions.factories import make_sent_digest, make_subscriber
from tests.subscriptions.sns_helpers import TOPIC, FakeAws, bounce, notification
from tests.web.conftest import SIGNUP, csrf_of

# Few examples per route, many routes, two databases: the whole file stays under a minute.
FAST = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SAMPLES = [
    "",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\u202eevil",
    "\ufeff",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\r\nBcc: victim@example.org",
    "../../etc/passwd",
    "%00",
    "-1",
    "1e309",
    "99999999999999999999999",
    "NaN",
    "[]",
    "{}",
    "null",
    "😀" * 50,
    "x" * 5000,
    "x" * 100_000,
]
# Lone surrogates cannot be encoded by any client, so none can send them.
TEXT = st.one_of(
    st.sampled_from(SAMPLES),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
)
# What fits in a URL: clients refuse longer ones before any server sees them.
URL_TEXT = TEXT.filter(lambda text: len(text) <= 5000)
FORM_FIELDS = [*SIGNUP, "new_email", "arxiv_id", "action", "List-Unsubscribe", "extra"]


def snapshot() -> list[tuple[str, list[str]]]:
    """Every row of every table, as text: compared before and after a refused request."""
    with session_scope() as session:
        return [
            (table.name, sorted(repr(tuple(row)) for row in session.execute(select(table))))
            for table in Base.metadata.sorted_tables
        ]


# Characters slipped into otherwise valid values, so the form gets past the other checks.
SLIPPED = st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u202e", "<", "'", "\\", "é", "😀"])
WITH_CSRF = st.sampled_from([True, True, True, False])


@st.composite
def hostile_value(draw: st.DrawFn, valid: Any) -> Any:
    """A hostile value, or the valid one with a hostile character slipped in somewhere."""
    if not isinstance(valid, str) or draw(st.sampled_from([True, False, False])):
        return draw(TEXT)
    at = draw(st.integers(0, len(valid)))
    return valid[:at] + draw(SLIPPED) + valid[at:]


@st.composite
def hostile_form(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A form that starts valid and has one to three fields made hostile."""
    form = dict(base)
    count = draw(st.sampled_from([1, 1, 1, 2, 3]))
    for name in draw(
        st.lists(st.sampled_from(FORM_FIELDS), unique=True, min_size=count, max_size=count)
    ):
        form[name] = draw(hostile_value(form.get(name, "")))
    return form


@st.composite
def hostile_token(draw: st.DrawFn, valid: list[str]) -> str:
    """A link token: random text, a valid one cut or altered, or one for another purpose."""
    kind = draw(st.sampled_from(["random", "valid", "cut", "altered"]))
    if kind == "random":
        return draw(URL_TEXT)
    token = draw(st.sampled_from(valid))
    if kind == "cut":
        return token[: draw(st.integers(0, len(token)))]
    if kind == "altered":
        at = draw(st.integers(0, len(token) - 1))
        return token[:at] + draw(st.sampled_from("A-_.\x00é")) + token[at + 1 :]
    return token


class Site:
    """The app over a TestClient that reports 500s instead of raising, plus known links."""

    def __init__(self, client: TestClient, subscriber_id: int) -> None:
        self.client = client
        self.csrf = csrf_of(client.get("/signup").text)
        self.tokens = [
            make_token(purpose, subscriber_id, generation, extra)
            for purpose, extra in (
                ("confirm", ""),
                ("preferences", ""),
                ("unsubscribe", ""),
                ("email", "new@example.org"),
                ("view", "daily-2026-11-25"),
                ("click", "2411.00001|abs"),
            )
            for generation in (0, 1)
        ]

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """Send one request; assert it is not a 5xx and that a 4xx changed nothing."""
        before = snapshot()
        response = self.client.request(method, path, follow_redirects=False, **kwargs)
        assert response.status_code < 500, (method, path, response.status_code)
        if 400 <= response.status_code < 500:
            assert snapshot() == before, (method, path, response.status_code)
        return response

    def form(self, draw_form: dict[str, Any], with_csrf: bool) -> dict[str, Any]:
        return {**draw_form, "csrf_token": self.csrf} if with_csrf else draw_form


@pytest.fixture
def site(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARN", TOPIC)
    # The caps answer 429 (a 4xx, so covered too) but would stop the exploration early.
    for cap in ("PER_CLIENT", "PER_MAILBOX", "GLOBAL"):
        monkeypatch.setenv(f"NEWSLETTER_SIGNUP_LIMIT_{cap}", "0")
    services.reset()
    app = create_app()
    verifier = FakeAws().verifier()
    app.dependency_overrides[get_sns_verifier] = lambda: verifier
    subscriber = make_subscriber()
    make_sent_digest(subscriber.id, [("2411.00001", "A paper")], message_id="ses-1")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, subscriber.id)


def path_of(prefix: str, token: str) -> str:
    return f"{prefix}/{quote(token, safe='')}"


@FAST
@given(data=st.data())
def test_the_signup_form_never_fails_and_a_refusal_changes_nothing(site: Site, data: Any):
    email = data.draw(st.emails() | st.just(SIGNUP["email"]))
    form = data.draw(hostile_form({**SIGNUP, "email": email}))
    site.request("POST", "/signup", data=site.form(form, data.draw(WITH_CSRF)))


@FAST
@given(data=st.data())
def test_link_pages_never_fail_on_any_token(site: Site, data: Any):
    token = data.draw(hostile_token(site.tokens))
    prefix = data.draw(
        st.sampled_from(
            ["/confirm", "/preferences", "/unsubscribe", "/change-email", "/digest", "/c"]
        )
    )
    site.request("GET", path_of(prefix, token), params={"next": data.draw(URL_TEXT)})


@FAST
@given(data=st.data())
def test_link_forms_never_fail_and_a_refusal_changes_nothing(site: Site, data: Any):
    token = data.draw(hostile_token(site.tokens))
    path = data.draw(
        st.sampled_from(
            [
                "/confirm",
                "/preferences",
                "/unsubscribe",
                "/change-email",
                "/preferences/{}/feedback",
                "/preferences/{}/email",
            ]
        )
    )
    target = path.format(quote(token, safe="")) if "{}" in path else path_of(path, token)
    form = data.draw(hostile_form({**SIGNUP, "new_email": "new@example.org"}))
    site.request("POST", target, data=site.form(form, data.draw(WITH_CSRF)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


@st.composite
def webhook_body(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "nested", "signed", "signed-odd"]))
    if kind == "bytes":
        return draw(st.binary(max_size=500))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    if kind == "nested":
        depth = draw(st.integers(500, 100_000))
        return b"[" * depth + b"]" * depth
    event: Any = bounce([draw(st.sampled_from(["reader@example.org", "x@example.org"]))])
    if kind == "signed-odd":
        event = draw(st.one_of(TEXT, JSON.map(json.dumps)))
    message_id = draw(st.one_of(st.uuids().map(str), TEXT.filter(bool)))
    return json.dumps(notification(event, message_id=message_id)).encode()


@FAST
@given(body=webhook_body())
def test_the_ses_webhook_never_fails_and_a_refusal_changes_nothing(site: Site, body: bytes):
    headers = {"content-type": "text/plain; charset=UTF-8"}
    site.request("POST", "/webhooks/ses", content=body, headers=headers)


PURPOSES = ["confirm", "preferences", "unsubscribe", "email", "view", "click"]
PREFIXES = {
    "confirm": "/confirm",
    "preferences": "/preferences",
    "unsubscribe": "/unsubscribe",
    "email": "/change-email",
    "view": "/digest",
    "click": "/c",
}


@FAST
@given(purpose=st.sampled_from(PURPOSES), payload=JSON, method=st.sampled_from(["GET", "POST"]))
def test_a_signed_token_of_the_wrong_shape_is_refused(
    site: Site, purpose: str, payload: Any, method: str
):
    token = URLSafeTimedSerializer(get_settings().secret_key, salt=f"newsletter.{purpose}").dumps(
        payload
    )
    data = site.form({}, True) if method == "POST" else None
    site.request(method, path_of(PREFIXES[purpose], token), data=data)


def test_the_site_still_works_after_the_storm(site: Site):
    """The fixture's reader is reachable, so the properties above did reach real code."""
    with session_scope() as session:
        subscriber = session.scalars(select(Subscriber)).one()
    token = make_token("preferences", subscriber.id, subscriber.token_generation)
    assert site.request("GET", path_of("/preferences", token)).status_code == 200
