"""End to end: 10,000 readers planned, ranked, rendered and sent to moto by real workers.

Everything real except SES: a throwaway PostgreSQL database, a claimed Redis logical
database, two `celery worker` processes (concurrency 2 each, all queues), and moto's
SES behind the project's fault-injecting proxy (no faults cued; it serves GetAccount).
Readers are spread over 24 timezones with send hour 0, so one plan_due makes everyone
due at once.

Prints the wall time, emails/s, and where the time went: planning (until every
Delivery row exists), ranking (rank_chunk task time), rendering and sending (from the
per-chunk log line of newsletter.chain.send), summed over worker processes.

The anchor ("naive") is the same pipeline run in one process, in line, with no queue
and no workers (what `newsletter send-due` does on the embedded default), timed on a
sample and printed as emails/s beside ours.

    .venv/bin/python bench/bench_e2e.py            # 10,000 readers
    .venv/bin/python bench/bench_e2e.py --quick    # 1,000 readers (smoke run)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    from newsletter import services
    from workers.app import app, reconfigure

    services.reset()
    reconfigure(app)


def count_states() -> dict[str, int]:
    from newsletter.db import session_scope
    from newsletter.models import Delivery

    with session_scope() as session:
        rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        return {str(state): int(n) for state, n in rows}


def stage_times(logs: list[Path]) -> dict[str, float]:
    """Sum task and stage seconds from the workers' logs."""
    totals = {"plan": 0.0, "rank": 0.0, "render": 0.0, "send": 0.0}
    task = re.compile(r"Task workers\.tasks\.(\w+)\[[^\]]+\] succeeded in ([0-9.]+)s")
    chunk = re.compile(r"send chunk of \d+: render ([0-9.]+)s, send ([0-9.]+)s")
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if match := task.search(line):
                name, seconds = match.group(1), float(match.group(2))
                if name == "plan_due":
                    totals["plan"] += seconds
                elif name == "rank_chunk":
                    totals["rank"] += seconds
            elif match := chunk.search(line):
                totals["render"] += float(match.group(1))
                totals["send"] += float(match.group(2))
    return totals


def naive_rate(sample: int, env: dict[str, str], pg_url: str) -> float:
    """Emails/s of the in-line, single-process pipeline on a fresh sample."""
    from sqlalchemy import create_engine, text

    from newsletter import chain
    from newsletter.ingest.service import run_ingest
    from newsletter.models import Base
    from tests.delivery.helpers import add_readers

    engine = create_engine(pg_url)
    with engine.begin() as connection:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    configure({**env, "REDIS_URL": ""})
    run_ingest("sample")
    add_readers(sample, prefix="naive")
    started = time.perf_counter()
    ids = chain.plan()
    for chunk in chain.chunked(ids):
        chain.send(chain.rank(chunk))
    elapsed = time.perf_counter() - started
    assert count_states().get("sent") == sample, count_states()
    return sample / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 readers (smoke run)")
    parser.add_argument("--readers", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=None)
    args = parser.parse_args()
    readers = args.readers or (1_000 if args.quick else 10_000)
    sample = args.naive_sample or (200 if args.quick else 500)

    from newsletter import db, services
    from tests.delivery.helpers import add_readers
    from tests.services import WorkerProcess, free_redis_db, postgres_database, release_redis_db
    from tests.sesproxy import SES_ENV, ses_stack

    workdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    redis_url = free_redis_db()
    try:
        with postgres_database() as pg_url, ses_stack() as ses:
            db.upgrade(pg_url)
            env = {
                **SES_ENV,
                "DATABASE_URL": pg_url,
                "REDIS_URL": redis_url,
                "NEWSLETTER_SES_ENDPOINT_URL": ses.url,
                "NEWSLETTER_SEND_ON_QUIET_DAYS": "true",
                "NEWSLETTER_FROM": "Trending Papers <digest@papers.example.com>",
                "NEWSLETTER_BASE_URL": "https://papers.test",
                "NEWSLETTER_SECRET_KEY": "bench-secret",
                "NEWSLETTER_OUTBOX": str(workdir / "outbox"),
                "PYTHONPATH": str(ROOT),
            }
            configure(env)
            from newsletter.ingest.service import run_ingest
            from newsletter.timeutil import utcnow
            from workers.tasks import plan_due

            run_ingest("sample")
            setup = time.perf_counter()
            add_readers(readers)
            print(
                f"{readers:,} readers in 24 timezones added in {time.perf_counter() - setup:.1f}s"
            )
            workers = [
                WorkerProcess(
                    {**os.environ, **env},
                    "ingest,schedule,rank,send",
                    args.concurrency,
                    workdir / f"worker-{n}.log",
                ).start()
                for n in range(args.workers)
            ]
            try:
                started = time.perf_counter()
                plan_due.delay(utcnow().isoformat())
                planned_at = None
                while True:
                    states = count_states()
                    total = sum(states.values())
                    if planned_at is None and total >= readers:
                        planned_at = time.perf_counter() - started
                    done = states.get("sent", 0) + states.get("skipped", 0)
                    if done >= readers:
                        break
                    time.sleep(0.5)
                wall = time.perf_counter() - started
            finally:
                for worker in workers:
                    worker.stop()
            forwarded = len(ses.proxy.state.sent_at)
            stages = stage_times([workdir / f"worker-{n}.log" for n in range(args.workers)])
            emails = count_states().get("sent", 0)
            rate = emails / wall
            print(f"sent {emails:,} emails ({forwarded:,} reached moto) in {wall:.1f}s wall")
            print(f"ours:  {rate:.1f} emails/s  ({args.workers} workers x {args.concurrency})")
            print(f"plan_due done (every row planned) after {planned_at or 0:.1f}s wall")
            busy = sum(stages.values()) or 1.0
            print("worker time by stage (summed over processes):")
            for name, seconds in stages.items():
                print(f"  {name:<7} {seconds:8.1f}s  {100 * seconds / busy:5.1f}%")
            naive = naive_rate(sample, env, pg_url)
            print(f"naive: {naive:.1f} emails/s  (one process in line, {sample} readers)")
            print(f"ratio ours/naive: {rate / naive:.2f}x")
            services.reset()
    finally:
        release_redis_db(redis_url)


if __name__ == "__main__":
    main()
