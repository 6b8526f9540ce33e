"""CLI: `newsletter queues` (the operator view in a terminal) and `newsletter web`."""

from __future__ import annotations

import json

import click

from newsletter.cliutil import ready_database
from newsletter.monitoring import Overview, inspect_workers, overview


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    return f"{seconds / 3600:.1f}h"


def _rate(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def format_overview(view: Overview) -> str:
    """Render the snapshot as plain text for a terminal."""
    lines = [f"broker: {view.broker}", ""]
    if view.queues:
        lines.append(f"{'queue':<10} {'waiting':>8} {'oldest':>8} {'taken':>6}")
        for q in view.queues:
            depth = "?" if q.depth is None else str(q.depth)
            lines.append(f"{q.name:<10} {depth:>8} {_age(q.oldest_age_seconds):>8} {q.reserved:>6}")
    else:
        lines.append("queues: none (embedded: tasks run in-process)")
    lines.append("")
    if view.workers is None:
        lines.append(f"workers: {view.worker_error or 'not inspected'}")
    elif not view.workers:
        lines.append("workers: none answered")
    else:
        lines.append("workers:")
        for w in view.workers:
            running = ", ".join(w.active) or "idle"
            lines.append(f"  {w.name}  queues={','.join(w.queues)}  running={running}")
    lines.append("")
    lines.append("current editions:")
    for e in view.editions or []:
        states = ", ".join(f"{k} {v}" for k, v in sorted(e.states.items())) or "no deliveries"
        lines.append(f"  {e.key}: {states} (total {e.total})")
    if not view.editions:
        lines.append("  none yet")
    limit = f" of {view.send_rate_limit:g}/s" if view.send_rate_limit else ""
    quota = view.ses_quota
    if quota and quota["max_24_hour_send"] >= 0:
        lines += [
            "",
            f"SES quota: {quota['max_send_rate']:g}/s, {quota['sent_last_24_hours']:.0f} of "
            f"{quota['max_24_hour_send']:.0f} sent in 24 h",
        ]
    lines += [
        "",
        view.sending,
        f"send rate: {view.send_rate_per_second:.2f}/s{limit} (last minute); "
        f"{view.sent_last_hour} in the last hour",
        f"bounce rate (7 days): {_rate(view.bounce_rate)} of {view.sent_in_window} sent "
        "(SES reviews above 5%)",
        f"complaint rate (7 days): {_rate(view.complaint_rate, 3)} (SES reviews above 0.1%)",
        "subscribers: "
        + (", ".join(f"{k} {v}" for k, v in sorted(view.subscribers.items())) or "none"),
        "suppressed: "
        + (", ".join(f"{k} {v}" for k, v in sorted(view.suppressions.items())) or "none"),
    ]
    if view.embeddings is not None and view.embeddings.get("model"):
        coverage = view.embeddings
        lines.append(
            f"embeddings ({coverage['model']}): {coverage['embedded']} of "
            f"{coverage['recent']} papers of the last 7 days have a vector"
        )
    if view.failures:
        lines += ["", "recent failures:"]
        for f in view.failures:
            lines.append(
                f"  #{f['delivery_id']} {f['edition']} {f['email']} {f['state']}: {f['error']}"
            )
    if view.bad_addresses:
        lines += ["", "recent bounces and complaints:"]
        for b in view.bad_addresses:
            lines.append(
                f"  {b['received_at']:%Y-%m-%d %H:%M} {b['type']} {b['recipient']}: {b['detail']}"
            )
    if view.ingest_runs:
        lines += ["", "recent ingest runs:"]
        for r in view.ingest_runs:
            outcome = (
                f"error: {r['error']}" if r["error"] else f"{r['new']} new, {r['updated']} updated"
            )
            started = f"{r['started_at']:%Y-%m-%d %H:%M}"
            lines.append(f"  {started} {r['source']}: {r['fetched']} fetched, {outcome}")
    lines += ["", "alerts:" if view.alerts else "alerts: none"]
    lines += [f"  ! {alert}" for alert in view.alerts]
    return "\n".join(lines)


@click.command("queues")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 30),
    default=1.0,
    show_default=True,
    help="Seconds to wait for workers to answer.",
)
@click.option("--no-workers", is_flag=True, help="Do not ask workers (faster).")
def queues(as_json: bool, timeout: float, no_workers: bool) -> None:
    """Show queue depths and ages, workers, deliveries, send and bounce rates, alerts."""
    from newsletter.db import session_scope

    ready_database()
    with session_scope() as session:
        view = overview(
            session, inspect=None if no_workers else inspect_workers, inspect_timeout=timeout
        )
    if as_json:
        click.echo(json.dumps(view.to_dict(), indent=2))
    else:
        click.echo(format_overview(view))


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--reload", "auto_reload", is_flag=True, help="Restart on code changes (dev).")
def web(host: str, port: int, auto_reload: bool) -> None:
    """Run the web app (signup, preferences, webhooks, /admin, /metrics) with uvicorn."""
    import uvicorn

    ready_database()
    uvicorn.run(
        "newsletter.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=auto_reload,
        proxy_headers=True,
    )
