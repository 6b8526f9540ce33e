"""`newsletter demo`: the whole path on the bundled sample, in one command."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from newsletter.chain import send_now
from newsletter.config import get_settings
from newsletter.db import session_scope
from newsletter.ingest.service import run_ingest
from newsletter.models import Delivery, DeliveryState, Edition, Subscriber
from newsletter.ranking.embed_job import embed_missing
from newsletter.subscriptions.service import Preferences, add_subscriber
from newsletter.timeutil import utcnow

# Realistic local send hours; the demo still sends each reader's first digest at once
# (see `due_now`), and later ones come at these hours.
DEMO_READERS: list[tuple[str, Preferences]] = [
    (
        "ada@example.org",
        Preferences(
            keywords=["out-of-distribution", "OOD detection"],
            categories=["cs.CV"],
            timezone="Europe/London",
            send_hour=7,
            max_papers=5,
        ),
    ),
    (
        "grace@example.org",
        Preferences(
            keywords=["reinforcement learning", "in-context learning"],
            description="transformers that learn to act from trajectories",
            timezone="America/New_York",
            send_hour=8,
            max_papers=5,
        ),
    ),
    (
        "alan@example.org",
        Preferences(
            keywords=["language models", "reasoning"],
            categories=["cs.CL"],
            timezone="Asia/Tokyo",
            send_hour=6,
            max_papers=5,
        ),
    ),
    (
        "katherine@example.org",
        Preferences(
            keywords=["diffusion", "image generation"],
            categories=["cs.CV"],
            timezone="Australia/Sydney",
            send_hour=7,
            max_papers=5,
        ),
    ),
    (
        "edsger@example.org",
        Preferences(
            keywords=["graph neural networks", "Gaussian processes"],
            categories=["stat.ML"],
            description="theory of deep learning and generalization",
            timezone="America/Los_Angeles",
            send_hour=9,
            max_papers=5,
        ),
    ),
]


def run_demo(say: Callable[[str], None]) -> None:
    settings = get_settings()
    started = time.perf_counter()
    counts = run_ingest("sample")
    say(
        f"ingested the bundled sample: {counts['fetched']} papers "
        f"({counts['new']} new, {counts['updated']} updated)"
    )
    with session_scope() as session:
        known = set(session.scalars(select(Subscriber.email)))
        for email, prefs in DEMO_READERS:
            if email not in known:
                add_subscriber(session, email, prefs, confirmed=True)
    embedded = embed_missing()  # a no-op unless NEWSLETTER_EMBEDDINGS is on
    if embedded["enabled"]:
        say(
            f"embedded {embedded['papers']} papers and {embedded['texts']} reader texts "
            f"with {embedded['model']}"
        )
    # Now, whatever the hour or weekday: a newcomer should see a digest at once, not at
    # 07:00 in Tokyo or on Monday; the readers keep their own hours after this.
    with session_scope() as session:
        ids = list(
            session.scalars(
                select(Subscriber.id).where(Subscriber.email.in_([e for e, _ in DEMO_READERS]))
            )
        )
    report = send_now(ids, utcnow())
    seconds = time.perf_counter() - started
    with session_scope() as session:
        emails = [e for e, _ in DEMO_READERS]
        rows = session.execute(
            select(Edition.key, Delivery.state, Delivery.papers, Subscriber.email)
            .join(Delivery, Delivery.edition_id == Edition.id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Subscriber.email.in_(emails))
            .order_by(Edition.opened_at.desc())
        ).all()
        total_sent = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.SENT)
        )
    latest: dict[str, tuple[str, str, int]] = {}
    for key, state, papers, email in rows:
        latest.setdefault(email, (key, state, len(papers or [])))
    sent_now = report.planned
    outbox = Path(settings.outbox).resolve()
    say(
        f"subscribers: {len(DEMO_READERS)} demo readers in "
        f"{len({p.timezone for _, p in DEMO_READERS})} timezones"
    )
    if sent_now == 0:
        keys = sorted({k for k, _, _ in latest.values()})
        say(
            f"nothing new to send: edition(s) {', '.join(keys)} already went to every demo "
            "reader; the same edition is never sent twice."
        )
    else:
        papers = [n for _, state, n in latest.values() if state == DeliveryState.SENT]
        avg = sum(papers) / len(papers) if papers else 0
        say(
            f"emails: {len(papers)} sent this run, {avg:.1f} papers per email "
            f"({total_sent} sent in all)"
        )
    say(f"time taken: {seconds:.2f}s")
    if settings.mail_backend == "file":
        say(
            f"open the result: {outbox}/  (one .eml and one .html per reader; "
            "open an .html in a browser, or an .eml in a mail client)"
        )
    say(
        "see the site on the same data (trending papers, search, each paper's neighbours, "
        "the archive, feeds) and serve these emails' links (view in browser, More/Less "
        f"like this, preferences): run `newsletter web`, then open {settings.base_url}/"
    )
