"""End to end: readers planned, ranked, rendered and sent by real workers to an SES stand-in.

Everything real but SES: a throwaway PostgreSQL database, a claimed Redis logical
database, `celery worker` processes (all queues), and the project's SES proxy
answering SendEmail itself after --latency-ms (SES's round trip; 0 answers at once),
so the figures measure our cost and not moto's. The account's MaxSendRate (--rate)
comes from the proxy's GetAccount, as in production. Readers are spread over 24
timezones with send hour 0, so one plan_due makes everyone due at once.

Prints the wall time and `ours: X emails/s`; the worker CPU per email by stage (plan,
rank, render, send bookkeeping, SES client: from the per-step log lines of
newsletter.chain) and in total (every worker process, Celery's own work included);
the busiest 2-second window at the stand-in against the rate limit; the load average
and a Python speed check (the machine may be shared: read the figures beside them).

The anchor ("naive") is the same pipeline run in one process, in line, with no queue
and no workers (what `newsletter send-due` does on the embedded default), timed on a
sample and printed as emails/s beside ours.

    .venv/bin/python bench/bench_e2e.py                          # 10,000 readers, 0 ms
    .venv/bin/python bench/bench_e2e.py --readers 100000 --latency-ms 50 --rate 500
    .venv/bin/python bench/bench_e2e.py --quick                  # 1,000 readers (smoke)
"""

from __future__ import annotations

import argparse
import bisect
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


STAGES = ("plan", "rank", "render", "send bookkeeping", "SES client")


def stage_cpu(logs: list[Path]) -> dict[str, float]:
    """Sum CPU seconds by stage from the workers' per-step log lines (newsletter.chain)."""
    totals = dict.fromkeys(STAGES, 0.0)
    plan = re.compile(r"plan of \d+: [0-9.]+s; cpu ([0-9.]+)s")
    rank = re.compile(r"rank chunk of \d+: [0-9.]+s; cpu ([0-9.]+)s")
    send = re.compile(
        r"send chunk of \d+: .*cpu render ([0-9.]+)s, bookkeeping ([0-9.]+)s, client ([0-9.]+)s"
    )
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if match := plan.search(line):
                totals["plan"] += float(match.group(1))
            elif match := rank.search(line):
                totals["rank"] += float(match.group(1))
            elif match := send.search(line):
                totals["render"] += float(match.group(1))
                totals["send bookkeeping"] += float(match.group(2))
                totals["SES client"] += float(match.group(3))
    return totals


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by every live process of a process group (/proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state ppid pgrp ... utime (12th) stime (13th).
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def busiest_two_seconds(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    return max((bisect.bisect_left(stamps, t + 2.0) - i for i, t in enumerate(stamps)), default=0)


def python_speed() -> float:
    """Time a plain Python loop, to tell a busy machine from slow code when reading results."""
    started = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - started


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
    parser.add_argument("--latency-ms", type=float, default=0.0, help="SES round trip")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="up to this much more")
    parser.add_argument("--rate", type=float, default=500.0, help="account MaxSendRate")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="processes per worker")
    parser.add_argument(
        "--send-concurrency", type=int, default=None, help="SES requests in flight per process"
    )
    parser.add_argument("--naive-sample", type=int, default=None)
    parser.add_argument("--no-naive", action="store_true", help="skip the in-line anchor")
    args = parser.parse_args()
    if args.readers is not None and args.readers < 1:
        parser.error("--readers must be at least 1")
    if args.latency_ms < 0 or args.jitter_ms < 0 or args.rate <= 0:
        parser.error("--latency-ms and --jitter-ms must be >= 0 and --rate > 0")
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
            ses.proxy.answer_sends(args.latency_ms / 1000, args.jitter_ms / 1000)
            ses.proxy.state.account["SendQuota"]["MaxSendRate"] = args.rate
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
            if args.send_concurrency:
                env["NEWSLETTER_SEND_CONCURRENCY"] = str(args.send_concurrency)
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
            logs = [workdir / f"worker-{n}.log" for n in range(args.workers)]
            workers = [
                WorkerProcess(
                    {**os.environ, **env}, "ingest,schedule,rank,send", args.concurrency, log
                ).start()
                for log in logs
            ]
            loads = []
            try:
                cpu_before = sum(group_cpu(w.process.pid) for w in workers if w.process)
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
                    loads.append(os.getloadavg()[0])
                    time.sleep(0.5 if readers < 20_000 else 2.0)
                wall = time.perf_counter() - started
                worker_cpu = (
                    sum(group_cpu(w.process.pid) for w in workers if w.process) - cpu_before
                )
            finally:
                for worker in workers:
                    worker.stop()
            stamps = list(ses.proxy.state.sent_at)
            cpu = stage_cpu(logs)
            emails = count_states().get("sent", 0)
            rate = emails / wall
            print(
                f"sent {emails:,} emails ({len(stamps):,} reached the stand-in, answering after "
                f"{args.latency_ms:g} ms + up to {args.jitter_ms:g} ms) in {wall:.1f}s wall"
            )
            print(
                f"ours:  {rate:.1f} emails/s  ({args.workers} workers x {args.concurrency}, "
                f"account rate {args.rate:g}/s)"
            )
            print(f"plan_due done (every row planned) after {planned_at or 0:.1f}s wall")
            busiest = busiest_two_seconds(stamps)
            print(
                f"busiest 2 s window at the stand-in: {busiest} sends "
                f"(limit {2 * args.rate:.0f}, {100 * busiest / (2 * args.rate):.0f} %)"
            )
            print(f"worker CPU per email by stage (ms, summed over processes; {emails:,} emails):")
            for name in STAGES:
                print(f"  {name:<17} {1000 * cpu[name] / max(emails, 1):7.2f}")
            staged = sum(cpu.values())
            print(f"  {'stages together':<17} {1000 * staged / max(emails, 1):7.2f}")
            print(
                f"  {'all worker CPU':<17} {1000 * worker_cpu / max(emails, 1):7.2f}  "
                "(every worker process: Celery, logging, queues included)"
            )
            print(
                f"load average while sending: {sum(loads) / max(len(loads), 1):.1f} mean, "
                f"{max(loads, default=0):.1f} peak on {os.cpu_count()} cores (a shared machine); "
                f"Python speed check: 10M additions take {python_speed():.2f}s here"
            )
            if not args.no_naive:
                naive = naive_rate(sample, env, pg_url)
                print(f"naive: {naive:.1f} emails/s  (one process in line, {sample} readers)")
                print(f"ratio ours/naive: {rate / naive:.2f}x")
            services.reset()
    finally:
        release_redis_db(redis_url)


if __name__ == "__main__":
    main()
