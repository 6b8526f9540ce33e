"""Many SES requests in flight per process, with the claim and the outcomes in batches."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import event

from newsletter import chain, db, services
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.delivery import state
from newsletter.delivery.base import TransientSendError
from newsletter.timeutil import utcnow
from tests.delivery.helpers import ready_deliveries, states, wait_for
from tests.services import ROOT


def concurrency(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setenv("NEWSLETTER_SEND_CONCURRENCY", str(n))
    get_settings.cache_clear()
    services.reset()


def test_a_worker_sends_at_the_accounts_rate_not_one_round_trip_at_a_time(
    ses, sqlite_url, monkeypatch
):
    concurrency(monkeypatch, 16)
    ids = ready_deliveries(60)
    ses.proxy.answer_sends(latency=0.1)
    started = time.monotonic()
    assert chain.send(ids)["sent"] == 60
    elapsed = time.monotonic() - started
    # One at a time would wait 60 round trips (6 s); 16 in flight need about 0.5 s
    # once the window has opened (render and a loaded machine take the rest).
    assert elapsed < 3.0, elapsed
    assert states() == {"sent": 60}


def test_a_sending_concurrency_of_one_keeps_one_request_in_flight(ses, sqlite_url, monkeypatch):
    concurrency(monkeypatch, 1)
    ids = ready_deliveries(10)
    ses.proxy.answer_sends(latency=0.05)
    assert chain.send(ids)["sent"] == 10
    arrivals = sorted(ses.proxy.state.sent_at)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.045  # each request waited for the previous answer


def test_a_chunk_is_claimed_and_recorded_in_a_few_statements_not_two_per_message(
    ses, pg_url, monkeypatch
):
    concurrency(monkeypatch, 16)
    ids = ready_deliveries(80)
    ses.proxy.answer_sends(latency=0.05)
    updates: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE DELIVERIES"):
            updates.append(statement)

    engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert chain.send(ids)["sent"] == 80
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # One claim statement per batch of tokens, one executemany per batch of answers.
    assert len(updates) < 80, len(updates)
    with session_scope() as session:
        claimed_once = state.claim_many(session, ids)
    assert claimed_once == []  # every row moved on; none is claimable twice


def test_a_throttled_first_answer_costs_one_request_not_a_pool_of_them(
    ses, sqlite_url, monkeypatch
):
    concurrency(monkeypatch, 16)
    ids = ready_deliveries(20)
    ses.proxy.answer_sends(latency=0.02)
    ses.proxy.fail_next(1)  # 429 TooManyRequestsException
    with pytest.raises(TransientSendError):
        chain.send(ids)
    assert ses.proxy.state.faulted == 1 and ses.proxy.state.sent_at == []
    assert states() == {"pending": 20}
    assert chain.send(ids)["sent"] == 20


def test_a_worker_killed_with_requests_in_flight_leaves_only_those_uncertain(
    ses, sqlite_url, monkeypatch
):
    """The batches never widen the gap: rows not yet in flight stay pending, never resent."""
    concurrency(monkeypatch, 8)
    ids = ready_deliveries(40)
    ses.proxy.answer_sends(latency=0.3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = f"from newsletter import chain; chain.send({ids!r})"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        wait_for(lambda: len(ses.proxy.state.sent_at) >= 6, timeout=60, interval=0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    received = len(ses.proxy.state.sent_at)
    before = states()
    assert before["sent"] + before["sending"] == received
    assert before["pending"] == 40 - received
    with session_scope() as session:
        state.expire_leases(session, now=utcnow() + state.lease() * 2)
    after = states()
    assert after["uncertain"] == before["sending"]
    assert after["uncertain"] <= 8  # at most the requests one process had in flight
    # The run that follows sends the pending rows, and none of the uncertain ones.
    chain.send(ids)
    assert len(ses.proxy.state.sent_at) == 40
    assert states() == {"sent": 40 - after["uncertain"], "uncertain": after["uncertain"]}
