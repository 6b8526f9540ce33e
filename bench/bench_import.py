"""Benchmark: `newsletter subscribers import` of a large CSV into PostgreSQL.

Creates its own throwaway database (TEST_POSTGRES_URL, default postgres@127.0.0.1:5432),
writes a CSV of N synthetic readers (keywords, categories, timezone, hour), and imports
it with newsletter.subscriptions.importing (validation, then one transaction per 1,000
rows: INSERT ... ON CONFLICT DO NOTHING of the readers, one INSERT of their interests).
Then, beside it, the same rows one per transaction (add_subscriber in its own session,
the way a loop over rows would) on a sample, extrapolated to rows/s. Both --confirmed:
the confirmation emails are a queue's work, not the import's.

    .venv/bin/python bench/bench_import.py              # 100,000 rows (issue 15: < 60 s)
    .venv/bin/python bench/bench_import.py --rows 5000  # smoke run
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from newsletter import db, services
from newsletter.models import Interest, Subscriber
from newsletter.subscriptions.importing import BATCH, import_subscribers
from newsletter.subscriptions.service import Preferences, add_subscriber
from tests.services import postgres_database

WORDS = (
    "diffusion models graph neural networks test-time adaptation retrieval reasoning "
    "contrastive learning federated optimisation causal inference language agents"
).split()
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "math.OC"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The test suite's own throwaway PostgreSQL database, with this process's pools
    closed before it is dropped."""
    with postgres_database() as url:
        try:
            yield url
        finally:
            services.reset()


def synthetic_csv(rows: int, prefix: str, seed: int = 15) -> str:
    """Write `rows` readers as our import format; return the CSV text."""
    rng = random.Random(seed)
    lines = [["email", "keywords", "categories", "description", "timezone", "hour", "frequency"]]
    for i in range(rows):
        words = rng.sample(WORDS, 4)
        lines.append(
            [
                f"{prefix}{i}@example.org",
                f"{words[0]} {words[1]}; {words[2]}",
                " ".join(rng.sample(CATEGORIES, 2)),
                f"papers about {words[3]}" if i % 3 == 0 else "",
                rng.choice(ZONES),
                str(rng.randrange(24)),
                "weekly" if i % 10 == 0 else "daily",
            ]
        )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    return buffer.getvalue()


def one_per_transaction(rows: int) -> float:
    """Seconds to add `rows` readers, each in its own session and transaction."""
    rng = random.Random(16)
    started = time.perf_counter()
    for i in range(rows):
        words = rng.sample(WORDS, 3)
        prefs = Preferences(
            keywords=[f"{words[0]} {words[1]}", words[2]],
            categories=rng.sample(CATEGORIES, 2),
            timezone=rng.choice(ZONES),
            send_hour=rng.randrange(24),
        )
        with db.session_scope() as session:
            add_subscriber(session, f"single{i}@example.org", prefs, confirmed=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH, help="rows per transaction")
    parser.add_argument(
        "--single", type=int, default=2_000, help="rows of the one-per-transaction pass"
    )
    args = parser.parse_args()
    os.environ.setdefault("NEWSLETTER_SECRET_KEY", "bench-secret")
    with throwaway_database() as url:
        os.environ["DATABASE_URL"] = url
        services.reset()
        db.upgrade(url)
        text_csv = synthetic_csv(args.rows, "reader")
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        report = import_subscribers(
            text_csv.splitlines(keepends=True), confirmed=True, batch=args.batch
        )
        batched, cpu = time.perf_counter() - started, time.process_time() - cpu
        load_during = os.getloadavg()[0]
        assert report.imported == args.rows and not report.problems, report.problems[:3]
        started = time.perf_counter()
        again = import_subscribers(text_csv.splitlines(keepends=True), confirmed=True)
        rerun = time.perf_counter() - started
        assert again.imported == 0 and again.unchanged == args.rows
        single = one_per_transaction(args.single)
        with db.session_scope() as session:
            readers = session.scalar(select(func.count()).select_from(Subscriber))
            interests = session.scalar(select(func.count()).select_from(Interest))
    batched_rate = args.rows / batched
    single_rate = args.single / single
    print(
        f"rows: {args.rows:,} ({readers:,} readers, {interests:,} interests stored), "
        f"{args.batch:,} per transaction"
    )
    print(f"batched import:          {batched:7.1f} s  {batched_rate:9,.0f} rows/s")
    print(f"  of which this process's CPU: {cpu:.1f} s (rest: PostgreSQL, waiting for a core)")
    print(f"same file again:         {rerun:7.1f} s  (nothing changed)")
    print(
        f"one row per transaction: {single:7.1f} s for {args.single:,}  "
        f"{single_rate:9,.0f} rows/s  -> {args.rows / single_rate:,.0f} s for {args.rows:,}"
    )
    print(f"ratio batched / one-per-transaction: {batched_rate / single_rate:.1f}x")
    print(
        f"load average: {load_before:.1f} before, {load_during:.1f} after the import, "
        f"on {os.cpu_count()} cores (shared machine)"
    )
    print(f"under 60 s: {'yes' if batched < 60 else 'NO'}")


if __name__ == "__main__":
    main()
