"""The operators' surface: /admin checks name and password and slows guessing; /healthz
and /metrics tell outsiders nothing; logs never hold a link token."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from newsletter import services
from newsletter.config import get_settings
from newsletter.subscriptions.tokens import make_token
from newsletter.web.app import create_app
from newsletter.web.login_guard import MAX_FAILURES
from tests.subscriptions.factories import make_subscriber


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("NEWSLETTER_ADMIN_PASSWORD", "correct horse")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client


def test_admin_refuses_a_wrong_or_empty_user_name_with_the_right_password(admin: TestClient):
    for user in ("nobody", "", "Admin"):
        assert admin.get("/admin", headers=basic(user, "correct horse")).status_code == 401
    assert admin.get("/admin", headers=basic("admin", "correct horse")).status_code == 200


def test_the_admin_user_name_is_a_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSLETTER_ADMIN_PASSWORD", "correct horse")
    monkeypatch.setenv("NEWSLETTER_ADMIN_USER", "ops")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.get("/admin", headers=basic("admin", "correct horse")).status_code == 401
        assert client.get("/admin", headers=basic("ops", "correct horse")).status_code == 200


def guessing_is_throttled(client: TestClient) -> None:
    for attempt in range(MAX_FAILURES):
        response = client.get("/admin", headers=basic("admin", f"guess {attempt}"))
        assert response.status_code == 401
    blocked = client.get("/admin", headers=basic("admin", "another guess"))
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    # Even the right password waits: otherwise the limit would not slow guessing.
    assert client.get("/admin", headers=basic("admin", "correct horse")).status_code == 429
    as_json = client.get("/admin/overview.json", headers=basic("admin", "correct horse"))
    assert as_json.status_code == 429 and "error" in as_json.json()


def test_wrong_passwords_from_one_client_are_throttled_in_process(admin: TestClient):
    guessing_is_throttled(admin)


def test_wrong_passwords_are_counted_in_redis_across_processes(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NEWSLETTER_ADMIN_PASSWORD", "correct horse")
    get_settings.cache_clear()
    with TestClient(create_app()) as first:
        for attempt in range(MAX_FAILURES):
            first.get("/admin", headers=basic("admin", f"guess {attempt}"))
    # A second app (another web process) sees the same count.
    with TestClient(create_app()) as second:
        assert second.get("/admin", headers=basic("admin", "correct horse")).status_code == 429


def test_the_admin_json_answers_401_as_json(admin: TestClient):
    response = admin.get("/admin/overview.json", headers=basic("admin", "nope"))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()
    assert response.headers["www-authenticate"].startswith("Basic")


def test_healthz_hides_the_database_error_and_logs_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    with TestClient(create_app()) as client:
        monkeypatch.setenv("DATABASE_URL", "postgresql://secretuser@127.0.0.1:1/hidden_db")
        services.reset()
        with caplog.at_level(logging.ERROR, logger="newsletter.web.routes.health"):
            response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert "secretuser" not in response.text and "hidden_db" not in response.text
    assert "127.0.0.1" in caplog.text  # operators still get the reason


def test_metrics_need_the_bearer_token_when_one_is_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEWSLETTER_METRICS_TOKEN", "scrape-secret")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, basic("admin", "scrape-secret")):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "newsletter_" not in refused.text
        allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert allowed.status_code == 200 and "newsletter_subscribers" in allowed.text


def test_metrics_stay_open_without_a_token_setting(client: TestClient):
    assert client.get("/metrics").status_code == 200


def test_access_and_error_logs_hold_no_link_token(caplog: pytest.LogCaptureFixture):
    subscriber = make_subscriber()
    token = make_token("preferences", subscriber.id, 0)
    app = create_app()

    @app.get("/preferences/{token}/boom")
    def boom(token: str) -> None:
        raise RuntimeError("broken")

    redactor = app.state.token_redactor
    # What uvicorn's access logger writes for a request: its arguments are redacted.
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO):
        access.info(
            '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "POST", f"/preferences/{token}", "1.1", 303
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get(f"/preferences/{token}/boom").status_code == 500
    # The test client's own log (httpx, the "browser" side) is not the server's.
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    logged = "\n".join(r.getMessage() for r in server)
    assert {"uvicorn.access", "newsletter.web.app"} <= {r.name for r in server}
    assert token not in logged
    assert "/preferences/…" in logged
    for path in ("/unsubscribe/", "/confirm/", "/change-email/", "/digest/", "/c/"):
        assert redactor.redact(f"GET {path}{token}?x=1") == f"GET {path}…?x=1"
