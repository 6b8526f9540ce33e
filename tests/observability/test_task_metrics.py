"""Task metrics and log context come from Celery's signals, for every task."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from newsletter import metrics
from newsletter.logging_setup import ContextFilter, JsonFormatter, log_context
from workers.tasks import expire_leases, prune_old_rows


def sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_a_task_run_is_counted_by_task_queue_and_state_with_its_duration(sqlite_url: str):
    runs = sample(
        "newsletter_task_runs_total", task="expire_leases", queue="schedule", state="SUCCESS"
    )
    timed = sample("newsletter_task_duration_seconds_count", task="expire_leases", queue="schedule")
    expire_leases.apply()
    expire_leases.apply()
    assert (
        sample(
            "newsletter_task_runs_total", task="expire_leases", queue="schedule", state="SUCCESS"
        )
        == runs + 2
    )
    assert (
        sample("newsletter_task_duration_seconds_count", task="expire_leases", queue="schedule")
        == timed + 2
    )


def test_a_failing_task_is_counted_with_its_exception_type(sqlite_url: str):
    before = sample(
        "newsletter_task_failures_total",
        task="expire_leases",
        queue="schedule",
        exception="TypeError",
    )
    result = expire_leases.apply(args=("not", "its", "arguments"))
    assert result.failed()
    assert (
        sample(
            "newsletter_task_failures_total",
            task="expire_leases",
            queue="schedule",
            exception="TypeError",
        )
        == before + 1
    )
    assert (
        sample(
            "newsletter_task_runs_total", task="expire_leases", queue="schedule", state="FAILURE"
        )
        >= 1
    )


@pytest.fixture
def json_lines() -> list[str]:
    """Capture the root logger's records as our JSON lines."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_log_line_of_a_task_carries_its_task_id_and_nothing_leaks_after(
    sqlite_url: str, json_lines: list[str]
):
    result = prune_old_rows.apply()
    logging.getLogger("after").info("outside any task")
    task_lines = [json.loads(line) for line in json_lines if "pruned old rows" in line]
    assert task_lines, json_lines
    assert task_lines[0]["task_id"] == result.id
    assert task_lines[0]["task"] == "prune_old_rows" and task_lines[0]["queue"] == "schedule"
    after = json.loads(json_lines[-1])
    assert after["message"] == "outside any task" and "task_id" not in after


def test_a_log_context_block_adds_fields_and_restores_the_outer_ones(json_lines: list[str]):
    log = logging.getLogger("newsletter.test")
    with log_context(edition_id=3):
        with log_context(delivery_id=42):
            log.info("inner")
        log.warning("outer")
    inner, outer = (json.loads(line) for line in json_lines[-2:])
    assert inner["edition_id"] == 3 and inner["delivery_id"] == 42
    assert outer["edition_id"] == 3 and "delivery_id" not in outer
    assert outer["level"] == "WARNING" and outer["logger"] == "newsletter.test"


def test_sends_and_provider_latency_appear_in_the_metrics_page(client):
    metrics.count_send("digest", "sent")
    with pytest.raises(RuntimeError), metrics.provider_call("ses"):
        raise RuntimeError("SES said no")
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    sends = {tuple(sorted(s.labels.items())): s.value for s in families["newsletter_sends"].samples}
    assert sends[(("kind", "digest"), ("outcome", "sent"))] >= 1
    latency = [
        s
        for s in families["newsletter_provider_send_seconds"].samples
        if s.name.endswith("_count") and s.labels == {"backend": "ses", "result": "error"}
    ]
    assert latency and latency[0].value >= 1
    # Today's gauges are still there.
    assert "newsletter_deliveries" in families
