"""Operator commands: send-due, deliveries (list, retry), sending (pause, resume, status)."""

from __future__ import annotations

import json
import re

import pytest
import redis
from click.testing import CliRunner

from newsletter import chain
from newsletter.cli import cli
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import state
from newsletter.ingest.service import run_ingest
from newsletter.models import DeliveryState
from newsletter.timeutil import utcnow
from tests.delivery.helpers import add_readers, states


@pytest.fixture
def runner(monkeypatch, sqlite_url) -> CliRunner:
    monkeypatch.setenv("NEWSLETTER_SEND_ON_QUIET_DAYS", "true")
    get_settings.cache_clear()
    return CliRunner()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_send_due_sends_in_process_once_and_a_second_run_sends_nothing(runner, isolated_settings):
    run_ingest("sample")
    add_readers(3)
    now = utcnow().isoformat()
    first = run(runner, "send-due", "--now", now)
    assert "planned 3 new deliveries" in first
    # Readers in several timezones may be on two local dates: one line per edition.
    assert sum(int(n) for n in re.findall(r"(\d+) sent", first)) == 3
    assert len(list(isolated_settings.glob("*.eml"))) == 3
    second = run(runner, "send-due", "--now", now)
    assert "planned 0 new deliveries" in second
    assert len(list(isolated_settings.glob("*.eml"))) == 3


def test_send_due_refuses_a_time_without_an_offset(runner):
    result = runner.invoke(cli, ["send-due", "--now", "2026-11-26T07:00"])
    assert result.exit_code != 0
    assert "timezone" in result.output and "Traceback" not in result.output


def test_send_due_with_a_broker_enqueues_the_plan_for_the_workers(runner, redis_url):
    output = run(runner, "send-due")
    assert "enqueued" in output
    assert redis.Redis.from_url(redis_url).llen("schedule") == 1


def test_deliveries_lists_and_filters_as_text_and_json(runner):
    run_ingest("sample")
    add_readers(2)
    run(runner, "send-due")
    rows = json.loads(run(runner, "deliveries", "--json"))
    assert {row["state"] for row in rows} == {"sent"} and len(rows) == 2
    assert all(row["provider_message_id"] for row in rows)
    key = rows[0]["edition"]
    assert "reader00001@example.org" in run(runner, "deliveries", "--edition", key)
    assert "no deliveries match" in run(runner, "deliveries", "--state", "failed")
    missing = runner.invoke(cli, ["deliveries", "--edition", "daily-1999-01-01"])
    assert missing.exit_code != 0 and "no edition" in missing.output


def test_pausing_keeps_deliveries_pending_and_resuming_sends_them(runner, isolated_settings):
    run_ingest("sample")
    add_readers(3)
    run(runner, "sending", "pause", "--reason", "checking the bounce rate")
    run(runner, "send-due")
    assert states() == {"pending": 3}
    status = run(runner, "sending", "status")
    assert "PAUSED" in status and "checking the bounce rate" in status and "3 pending" in status
    assert json.loads(run(runner, "sending", "status", "--json"))["paused"] is True
    output = run(runner, "sending", "resume")
    assert "3 pending deliveries" in output
    assert states() == {"sent": 3}
    assert "running" in run(runner, "sending", "status")


def test_retry_failed_and_uncertain_reopens_only_those_and_sends_them(runner, isolated_settings):
    run_ingest("sample")
    add_readers(3)
    ids = chain.rank(chain.plan())
    with session_scope() as session:
        assert state.claim(session, ids[0]) and state.claim(session, ids[1])
        state.mark_failed(session, ids[0], "MessageRejected: bad address")
        state.expire_leases(session, utcnow() + state.lease() * 2)
    assert states() == {"failed": 1, "uncertain": 1, "pending": 1}
    refused = runner.invoke(cli, ["deliveries", "retry"])
    assert refused.exit_code != 0 and "--failed or --uncertain" in refused.output
    output = run(runner, "deliveries", "retry", "--failed")
    assert "reopened 1 failed" in output
    assert states() == {"sent": 1, "uncertain": 1, "pending": 1}
    run(runner, "deliveries", "retry", "--uncertain")
    assert states()[DeliveryState.SENT] == 2
