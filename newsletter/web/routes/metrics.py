"""/metrics in Prometheus text format, read fresh from the database and Redis per scrape.

Gauges rather than counters kept in process memory: the web process may run several
copies and restart any time, while the database and the broker hold the truth. Beside
them come the counters of newsletter.metrics (task runs and durations, sends by
outcome, provider latency): added up over every process of the host from
PROMETHEUS_MULTIPROC_DIR when it is set, else this process's own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from newsletter import metrics as process_metrics
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.models import Delivery, Edition, EmailEvent, IngestRun
from newsletter.monitoring import RATE_WINDOW as WINDOW
from newsletter.monitoring import Overview, overview

router = APIRouter()


class NewsletterCollector(Collector):
    """Turn one monitoring snapshot (plus a few totals) into metric families."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with session_scope() as session:
            view: Overview = overview(session, inspect=None)
            # Recent rows only: a scrape every few seconds must not count a year of mail.
            since = view.generated_at - WINDOW
            recent_editions = select(Edition.id).where(Edition.opened_at >= since)
            deliveries = session.execute(
                select(Delivery.state, func.count())
                .where(Delivery.edition_id.in_(recent_editions))
                .group_by(Delivery.state)
            ).all()
            events = session.execute(
                select(EmailEvent.event_type, func.count())
                .where(EmailEvent.received_at >= since)
                .group_by(EmailEvent.event_type)
            ).all()
            runs = session.execute(
                select(IngestRun.source, IngestRun.error.is_(None), func.count()).group_by(
                    IngestRun.source, IngestRun.error.is_(None)
                )
            ).all()
        family = GaugeMetricFamily(
            "newsletter_deliveries",
            "Deliveries by state, editions opened in the last 7 days",
            labels=["state"],
        )
        for state, count in deliveries:
            family.add_metric([str(state)], count)
        yield family
        family = GaugeMetricFamily(
            "newsletter_edition_deliveries",
            "Deliveries of the current editions by state",
            labels=["edition", "state"],
        )
        for edition in view.editions:
            for state, count in edition.states.items():
                family.add_metric([edition.key, state], count)
        yield family
        depth = GaugeMetricFamily(
            "newsletter_queue_depth", "Messages waiting per Celery queue", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "newsletter_queue_oldest_age_seconds",
            "Age of the oldest waiting message per Celery queue",
            labels=["queue"],
        )
        reserved = GaugeMetricFamily(
            "newsletter_queue_reserved",
            "Messages taken by workers, not yet acked",
            labels=["queue"],
        )
        for queue in view.queues:
            if queue.depth is not None:
                depth.add_metric([queue.name], queue.depth)
            age.add_metric([queue.name], queue.oldest_age_seconds or 0.0)
            reserved.add_metric([queue.name], queue.reserved)
        yield depth
        yield age
        yield reserved
        family = GaugeMetricFamily(
            "newsletter_suppressions", "Suppressed addresses by reason", labels=["reason"]
        )
        for reason, count in view.suppressions.items():
            family.add_metric([reason], count)
        yield family
        family = GaugeMetricFamily(
            "newsletter_subscribers", "Subscribers by status", labels=["status"]
        )
        for status, count in view.subscribers.items():
            family.add_metric([status], count)
        yield family
        family = GaugeMetricFamily(
            "newsletter_ingest_runs",
            "Ingest runs by source and outcome",
            labels=["source", "outcome"],
        )
        for source, ok, count in runs:
            family.add_metric([source, "ok" if ok else "error"], count)
        yield family
        family = GaugeMetricFamily(
            "newsletter_email_events", "SES events received in the last 7 days", labels=["type"]
        )
        for event_type, count in events:
            family.add_metric([event_type], count)
        yield family
        yield GaugeMetricFamily(
            "newsletter_bounce_rate",
            "Permanent bounces per sent email over 7 days (SES reviews above 0.05)",
            value=view.bounce_rate or 0.0,
        )
        yield GaugeMetricFamily(
            "newsletter_complaint_rate",
            "Complaints per sent email over 7 days (SES reviews above 0.001)",
            value=view.complaint_rate or 0.0,
        )
        yield GaugeMetricFamily(
            "newsletter_sent_last_hour", "Emails sent in the last hour", value=view.sent_last_hour
        )
        if view.embeddings is not None and view.embeddings.get("model"):
            yield GaugeMetricFamily(
                "newsletter_papers_without_embedding",
                "Papers first seen in 7 days with no vector of the configured model",
                value=view.embeddings["recent"] - view.embeddings["embedded"],
            )


class ThisProcessCollector(Collector):
    """This process's own counters (no multiprocess directory configured)."""

    def collect(self) -> Iterator[Metric]:
        yield from process_metrics.REGISTRY.collect()


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NewsletterCollector())
    directory = get_settings().metrics_dir
    if directory is not None:
        MultiProcessCollector(registry, path=str(directory))
    else:
        registry.register(ThisProcessCollector())
    return generate_latest(registry)


def scrape_refused(request: Request) -> Response | None:
    """Refuse a scrape without the bearer token, when NEWSLETTER_METRICS_TOKEN is set."""
    token = get_settings().metrics_token
    if not token:
        return None
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secrets.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    ):
        return None
    return JSONResponse(
        {"error": "metrics need the bearer token (NEWSLETTER_METRICS_TOKEN)"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="newsletter metrics"'},
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    refused = scrape_refused(request)
    if refused is not None:
        return refused
    body = await run_in_threadpool(render_metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
