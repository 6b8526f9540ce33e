"""Task metrics of every worker process add up in /metrics (prometheus multiprocess mode)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from newsletter.queues import broker
from newsletter.web.app import create_app
from tests.conftest import _reset_process_state

pytestmark = pytest.mark.integration


def runs_of(text: str, task: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "newsletter_task_runs"
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("task") == task
    )


def test_runs_in_every_worker_child_are_counted_once_each_in_metrics(
    start_worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    log_file = tmp_path / "worker-0.log"
    worker = start_worker(
        queues="schedule",
        concurrency=2,
        env={"PROMETHEUS_MULTIPROC_DIR": str(directory), "NEWSLETTER_LOG_FORMAT": "json"},
    )
    for _ in range(6):
        broker().enqueue("expire_leases")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    _reset_process_state()
    with TestClient(create_app()) as client:
        deadline = time.monotonic() + 90
        while runs_of(client.get("/metrics").text, "expire_leases") < 6:
            assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(0.5)
        text = client.get("/metrics").text
    assert runs_of(text, "expire_leases") == 6
    assert "newsletter_task_duration_seconds_bucket" in text
    # Each child writes its own file: the counts above are their sum.
    assert list(directory.glob("counter_*.db"))
    # The worker's log lines are JSON, and a task's lines carry its id.
    task_lines = [
        json.loads(line)
        for line in log_file.read_text().splitlines()
        if line.startswith("{") and '"task_id"' in line
    ]
    assert task_lines and all(line["task"] == "expire_leases" for line in task_lines)
