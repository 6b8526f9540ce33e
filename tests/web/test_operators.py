"""Operator views: queue depth and age from real Redis, /admin, /metrics, `newsletter queues`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from click.testing import CliRunner
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from newsletter.brokerstats import queue_stats, redis_client
from newsletter.cli import cli
from newsletter.db import session_scope
from newsletter.models import Delivery, DeliveryState, IngestRun
from newsletter.monitoring import overview
from newsletter.subscriptions.bounces import record_ses_event
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import make_sent_digest, make_subscriber
from tests.subscriptions.sns_helpers import bounce, complaint


def basic(password: str, user: str = "admin") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def admin_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("NEWSLETTER_ADMIN_PASSWORD", "correct horse")
    from newsletter.config import get_settings
    from newsletter.web.app import create_app

    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client


def queue_task(name: str, *args: object) -> None:
    from workers import tasks

    getattr(tasks, name).delay(*args)


def some_history() -> None:
    """Sent mail, a bounce, a complaint, a failure and an ingest run (at 2026-11-26)."""
    a = make_subscriber("a@example.org")
    b = make_subscriber("b@example.org")
    make_sent_digest(a.id, [("2411.00001", "P")], message_id="m-1")
    make_sent_digest(b.id, [("2411.00002", "Q")], edition_key="daily-2026-11-26")
    c = make_subscriber("c@example.org")
    for day in (21, 22, 23):  # 4 sent in the last 7 days: 1 bounce + 1 complaint = 25 % each
        make_sent_digest(c.id, [("2411.00003", "R")], edition_key=f"daily-2026-11-{day}")
    with session_scope() as session:
        session.get_one(Delivery, 2).sent_at = utcnow()
        failed = session.get_one(Delivery, 1)
        failed.state = DeliveryState.FAILED
        failed.last_error = "MessageRejected: Email address is not verified"
        record_ses_event(session, "sns-1", json.dumps(bounce(["a@example.org"])))
        record_ses_event(session, "sns-2", json.dumps(complaint(["b@example.org"])))
        session.add(
            IngestRun(source="arxiv-rss", fetched=10, new=4, error="HTTP 503 from rss.arxiv.org")
        )


def test_queue_depth_and_oldest_age_come_from_the_celery_messages_in_redis(redis_url: str):
    long_ago = datetime.now(UTC) - timedelta(minutes=20)
    with time_machine.travel(long_ago, tick=False):
        queue_task("plan_due")
    queue_task("plan_due")
    queue_task("send_chunk", [1, 2, 3])
    client = redis_client(redis_url)
    try:
        stats = {q.name: q for q in queue_stats(client)}
    finally:
        client.close()
    assert stats["schedule"].depth == 2
    assert stats["send"].depth == 1
    assert stats["ingest"].depth == 0 and stats["ingest"].oldest_age_seconds is None
    assert 19 * 60 < (stats["schedule"].oldest_age_seconds or 0) < 21 * 60
    assert (stats["send"].oldest_age_seconds or 99) < 60


def test_the_snapshot_raises_alerts_for_stale_queues_and_bad_rates(redis_url: str):
    some_history()
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=1), tick=False):
        queue_task("send_chunk", [1])
    with session_scope() as session:
        view = overview(session, inspect=lambda timeout: [])
    assert view.sent_in_window == 4
    assert view.bounce_rate == 0.25 and view.complaint_rate == 0.25
    text = "\n".join(view.alerts)
    assert "bounce rate 25.00%" in text and "above SES's review limit" in text
    assert "complaint rate 25.000%" in text
    assert "queue send: oldest message waited 60 min" in text
    assert "no worker answered" in text
    assert "latest arxiv-rss ingest failed: HTTP 503" in text
    assert view.failures[0]["error"].startswith("MessageRejected")


def test_an_unreachable_broker_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    from newsletter.config import get_settings

    get_settings.cache_clear()
    make_subscriber()
    with session_scope() as session:
        view = overview(session)
    assert view.queue_error and "cannot read queues" in view.queue_error
    assert [q.depth for q in view.queues] == [None] * 5


@pytest.mark.integration
def test_workers_and_what_they_consume_are_listed(start_worker, pg_url: str):
    start_worker(queues="ingest,schedule", concurrency=1)
    with session_scope() as session:
        view = overview(session, inspect_timeout=3.0)
    assert view.workers is not None and len(view.workers) == 1
    assert view.workers[0].queues == ["ingest", "schedule"]


def test_admin_is_off_with_a_clear_message_when_no_password_is_set(client: TestClient):
    response = client.get("/admin", headers=basic("anything"))
    assert response.status_code == 503
    assert "NEWSLETTER_ADMIN_PASSWORD" in response.text
    assert client.get("/admin/overview.json").status_code == 503


def test_admin_needs_the_password(admin_client: TestClient):
    for headers in ({}, basic("wrong"), {"Authorization": "Basic !!!"}):
        response = admin_client.get("/admin", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
    assert admin_client.get("/admin/overview.json", headers=basic("nope")).status_code == 401


def test_admin_shows_queues_editions_rates_failures_and_ingest_runs(
    admin_client: TestClient, redis_url: str
):
    some_history()
    queue_task("plan_due")
    response = admin_client.get("/admin", headers=basic("correct horse"))
    assert response.status_code == 200
    page = response.text
    for heading in ("Queues", "Workers", "Current editions", "Sending", "Recent failures"):
        assert f">{heading}</h2>" in page
    assert "<td>schedule</td><td>1</td>" in page
    assert "daily-2026-11-26" in page
    assert "MessageRejected" in page
    assert "HTTP 503 from rss.arxiv.org" in page
    assert "<td>complaint</td><td>b@example.org</td><td>abuse</td>" in page
    assert "Needs attention" in page
    data = admin_client.get("/admin/overview.json", headers=basic("correct horse")).json()
    assert data["bounce_rate"] == 0.25
    assert data["ses_limits"] == {"bounce": 0.05, "complaint": 0.001}
    assert {q["name"]: q["depth"] for q in data["queues"]}["schedule"] == 1


def test_metrics_are_prometheus_text_with_the_operator_numbers(client: TestClient, redis_url: str):
    some_history()
    queue_task("send_chunk", [1])
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("newsletter_deliveries", (("state", "sent"),))] == 4
    assert samples[("newsletter_deliveries", (("state", "failed"),))] == 1
    assert samples[("newsletter_queue_depth", (("queue", "send"),))] == 1
    assert samples[("newsletter_queue_depth", (("queue", "ingest"),))] == 0
    assert samples[("newsletter_suppressions", (("reason", "bounce"),))] == 1
    assert samples[("newsletter_suppressions", (("reason", "complaint"),))] == 1
    assert samples[("newsletter_ingest_runs", (("outcome", "error"), ("source", "arxiv-rss")))] == 1
    assert samples[("newsletter_bounce_rate", ())] == 0.25


def test_metrics_work_on_the_embedded_default_too(client: TestClient):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "newsletter_deliveries" in response.text


def test_newsletter_queues_prints_the_snapshot_as_text_and_json(redis_url: str):
    some_history()
    queue_task("plan_due")
    runner = CliRunner()
    result = runner.invoke(cli, ["queues", "--no-workers"])
    assert result.exit_code == 0, result.output
    assert "schedule" in result.output and "alerts:" in result.output
    assert "bounce rate (7 days): 25.00% of 4 sent" in result.output
    assert "bounce a@example.org: Permanent/General" in result.output
    result = runner.invoke(cli, ["queues", "--json", "--no-workers"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {q["name"]: q["depth"] for q in data["queues"]}["schedule"] == 1


def test_newsletter_queues_with_a_bad_database_url_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    from newsletter.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["queues", "--no-workers"])
    assert result.exit_code != 0
    assert "cannot reach the database" in result.output
    assert "Traceback" not in result.output


def test_health_and_error_pages_never_show_a_traceback():
    from newsletter.web.app import create_app

    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        missing = client.get("/no/such/page")
        assert missing.status_code == 404 and "Page not found" in missing.text
        broken = client.get("/boom")
        assert broken.status_code == 500
        assert "Something went wrong" in broken.text
        assert "secret internals" not in broken.text
        assert client.put("/").status_code == 405


def test_a_paused_sender_and_the_ses_quota_show_up_everywhere(
    admin_client: TestClient, redis_url: str
):
    from newsletter.delivery import breaker
    from newsletter.delivery.ratelimit import ACCOUNT_KEY, QUOTA_KEY

    make_subscriber()
    with session_scope() as session:
        breaker.trip(session, "SendingPausedException: sending is paused for this account")
    client = redis_client(redis_url)
    try:
        account = {
            "SendQuota": {"MaxSendRate": 14, "Max24HourSend": 50000, "SentLast24Hours": 50000}
        }
        client.set(ACCOUNT_KEY, json.dumps(account))
        client.set(QUOTA_KEY, 0)
    finally:
        client.close()
    with session_scope() as session:
        view = overview(session, inspect=None)
    assert view.sending_paused and view.send_rate_limit == 14
    text = "\n".join(view.alerts)
    assert "PAUSED" in text and "SendingPausedException" in text
    assert "24-hour sending quota is used up" in text
    page = admin_client.get("/admin", headers=basic("correct horse")).text
    assert "14.0/s max" in page and "50000 of 50000 sent in 24 h, 0 left" in page
    result = CliRunner().invoke(cli, ["queues", "--no-workers"])
    assert "sending: PAUSED" in result.output and "SES quota: 14/s" in result.output


def test_embedding_coverage_and_a_lagging_embed_task_show_up_everywhere(
    client: TestClient, admin_client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    from newsletter.config import get_settings
    from newsletter.models import Paper
    from newsletter.ranking.embed_job import embed_missing

    now = utcnow()
    with session_scope() as session:
        for n, age in enumerate([timedelta(minutes=5), timedelta(hours=3), timedelta(days=2)]):
            session.add(Paper(arxiv_id=f"2611.0000{n}", title=f"P{n}", first_seen_at=now - age))
    with session_scope() as session:
        assert overview(session, inspect=None).embeddings is None  # off: not shown at all
    monkeypatch.setenv("NEWSLETTER_EMBEDDINGS", "tests.ranking.fake_embedder:make")
    get_settings.cache_clear()
    with session_scope() as session:
        view = overview(session, inspect=None)
    assert view.embeddings == {
        "model": "fake-concepts-v1", "recent": 3, "embedded": 0, "lagging": 2,
    }  # fmt: skip
    assert any("2 papers first seen over an hour ago have no" in a for a in view.alerts)
    text = CliRunner().invoke(cli, ["queues", "--no-workers"]).output
    assert "embeddings (fake-concepts-v1): 0 of 3 papers of the last 7 days" in text
    page = admin_client.get("/admin", headers=basic("correct horse")).text
    assert "Embeddings (fake-concepts-v1)" in page and "have no fake-concepts-v1 vector" in page
    metrics = {m.name: m for m in text_string_to_metric_families(client.get("/metrics").text)}
    assert metrics["newsletter_papers_without_embedding"].samples[0].value == 3

    embed_missing()
    with session_scope() as session:
        view = overview(session, inspect=None)
    assert (view.embeddings or {})["embedded"] == 3
    assert not any("vector" in a for a in view.alerts)
