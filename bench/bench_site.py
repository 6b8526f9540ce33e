"""The public site under load: 100,000 papers in PostgreSQL, 50 connections, caching on vs off.

A throwaway PostgreSQL database gets 100,000 papers over the last year (texts recombined
from the bundled sample's and the ranking eval's sentences, so word statistics look
like arXiv's), 30 daily editions, and one reader with 20 sent digests. The site runs
as operators run it: `uvicorn newsletter.web.app:app --workers 2` (one per core). While
wrk drives each page with 50 connections, a thread upvotes random papers of the latest
days at UPDATES_PER_SECOND (10,000 a day is 0.12/s; we use far more).

Each page is measured twice: with the page cache on (NEWSLETTER_SITE_CACHE_SECONDS=60)
and off (0), printed side by side with requests/s, p50 and p99; plus one row of a
browser revalidating with If-None-Match (304s). The machine's load average is printed
with the figures: other processes share these 2 cores, so the web processes' own CPU
milliseconds per request are printed too (PostgreSQL's are not included).

    .venv/bin/python bench/bench_site.py            # 100,000 papers, 10 s per run
    .venv/bin/python bench/bench_site.py --quick    # 10,000 papers, 4 s per run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text, update  # noqa: E402

from newsletter import db as dbmod  # noqa: E402
from newsletter import services  # noqa: E402
from newsletter.ingest.normalise import clean_prose  # noqa: E402
from newsletter.models import (  # noqa: E402
    Delivery,
    DeliveryState,
    Edition,
    Paper,
    Subscriber,
    SubscriberStatus,
)
from newsletter.subscriptions.tokens import make_token  # noqa: E402
from newsletter.summary import sentences  # noqa: E402
from tests.services import postgres_database  # noqa: E402

CONNECTIONS = 50
UPDATES_PER_SECOND = 20
SEARCHES = [
    "diffusion",
    "out-of-distribution detection",
    '"in-context learning"',
    "reinforcement learning agents",
    "graph neural networks -survey",
    "language models reasoning",
    "vision transformer",
    "gaussian processes",
    "federated privacy",
    "benchmark",
]
NOW = datetime.now(UTC).replace(microsecond=0)


def corpus() -> tuple[list[str], list[str]]:
    """Titles and sentences of the sample and the ranking eval's extra papers."""
    titles, pool = [], []
    for path in (
        ROOT / "newsletter/data/sample_papers.json",
        ROOT / "bench/data/extra_papers.json",
    ):
        for item in json.loads(path.read_text())["papers"]:
            titles.append(clean_prose(item["title"]))
            pool.extend(sentences(clean_prose(item["abstract"])))
    return titles, pool


def fill(url: str, n_papers: int, rng: random.Random) -> tuple[list[str], int]:
    """Store the papers, editions and one reader with digests; return paper ids, reader id."""
    titles, pool = corpus()
    words = sorted({w for t in titles for w in t.split() if len(w) > 4})
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]
    engine = create_engine(url)
    ids: list[str] = []
    started = time.perf_counter()
    with engine.begin() as connection:
        batch = []
        for n in range(n_papers):
            arxiv_id = f"25{n // 30000:02d}.{n % 30000:05d}"
            ids.append(arxiv_id)
            published = NOW - timedelta(minutes=int(n * 365 * 24 * 60 / n_papers))
            batch.append(
                {
                    "arxiv_id": arxiv_id,
                    "version": 1,
                    "title": f"{rng.choice(titles)}: {rng.choice(words)} {rng.choice(words)}",
                    "title_raw": "",
                    "abstract": " ".join(rng.sample(pool, 7)),
                    "abstract_raw": "",
                    "authors": [{"name": rng.choice(names)} for _ in range(rng.randint(1, 9))],
                    "categories": ["cs.LG"],
                    "published_at": published,
                    "upvotes": int(rng.paretovariate(1.2)) - 1,
                    "num_comments": rng.randint(0, 5),
                    "github_stars": rng.choice([None, None, rng.randint(0, 5000)]),
                    "ai_summary": None,
                    "ai_keywords": [],
                    "withdrawn": False,
                    "sources": ["bench"],
                    "first_seen_at": published,
                    "last_seen_at": published,
                }
            )
            if len(batch) == 5000:
                connection.execute(insert(Paper), batch)
                batch = []
        if batch:
            connection.execute(insert(Paper), batch)
        for day in range(30):
            start = (NOW - timedelta(days=day)).replace(hour=0, minute=0, second=0)
            connection.execute(
                insert(Edition).values(
                    key=f"daily-{start.date().isoformat()}",
                    frequency="daily",
                    window_start=start,
                    window_end=start + timedelta(days=1),
                    opened_at=start,
                    candidate_ids=ids[day * 270 : day * 270 + 270],
                )
            )
        reader = connection.execute(
            insert(Subscriber)
            .values(email="bench@example.org", status=SubscriberStatus.ACTIVE, token_generation=0)
            .returning(Subscriber.id)
        ).scalar_one()
        for edition_id in range(1, 21):
            connection.execute(
                insert(Delivery).values(
                    edition_id=edition_id,
                    subscriber_id=reader,
                    state=DeliveryState.SENT,
                    papers=[{"arxiv_id": i, "score": 1.0, "reason": "bench"} for i in ids[:10]],
                    sent_at=NOW - timedelta(days=edition_id),
                )
            )
        connection.execute(text("ANALYZE"))
    engine.dispose()
    print(f"stored {n_papers:,} papers in {time.perf_counter() - started:.0f}s")
    return ids, reader


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, cache_seconds: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        {
            "DATABASE_URL": url,
            "NEWSLETTER_SECRET_KEY": "bench-secret",
            "NEWSLETTER_BASE_URL": f"http://127.0.0.1:{port}",
            "NEWSLETTER_SITE_CACHE_SECONDS": str(cache_seconds),
            "PYTHONPATH": str(ROOT),
        }
    )
    command = [
        sys.executable, "-m", "uvicorn", "newsletter.web.app:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError("uvicorn did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], %s)
end
"""


def cpu_seconds(group: int) -> float:
    """CPU time (user + system) used so far by the processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # field 5 of /proc/PID/stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def wrk(
    base: str, paths: list[str], seconds: int, headers: dict[str, str], tmp: Path, group: int
) -> dict:
    """Run wrk over `paths` in turn; return requests/s, p50 and p99 in ms, and the web
    processes' CPU milliseconds per request (a figure the machine's other load barely moves).
    """
    script = tmp / "paths.lua"
    lua_paths = ", ".join(json.dumps(p) for p in paths)
    lua_headers = (
        "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"
    )
    script.write_text(LUA % (lua_paths, lua_headers))
    cpu_before = cpu_seconds(group)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    cpu = cpu_seconds(group) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": ms("50"),
        "p99": ms("99"),
        "cpu_ms": 1000 * cpu / max(requests, 1),
        "non2xx": int(errors.group(1)) if errors else 0,
        "load": os.getloadavg()[0],
    }


def upvoter(url: str, ids: list[str], stop_event: threading.Event, rng: random.Random) -> None:
    """Upvote random papers of the last three days, like Hugging Face's counters moving."""
    engine = create_engine(url)
    recent = ids[: max(1, len(ids) * 3 // 365)]
    while not stop_event.is_set():
        with engine.begin() as connection:
            connection.execute(
                update(Paper)
                .where(Paper.arxiv_id == rng.choice(recent))
                .values(upvotes=Paper.upvotes + 1, last_seen_at=datetime.now(UTC))
            )
        stop_event.wait(1 / UPDATES_PER_SECOND)
    engine.dispose()


def measure(url: str, ids: list[str], feed: str, cache: int, seconds: int, tmp: Path) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(url, port, cache)
    rng = random.Random(7)
    pages = {
        "/": ["/", "/?period=week", "/?sort=new", "/?period=month"],
        "/papers/{id}": [f"/papers/{i}" for i in rng.sample(ids[:3000], 200)],
        "/search?q=": ["/search?q=" + urllib.request.quote(q) for q in SEARCHES],
        "/archive": ["/archive", f"/archive/{(NOW - timedelta(days=2)).date().isoformat()}"],
        "/feed.atom": ["/feed.atom"],
        "/feeds/{token}.atom": [feed],
    }
    results = {}
    try:
        for name, paths in pages.items():
            for path in paths:  # warm: the related-papers model, the page cache, the pools
                for _ in range(2):
                    urllib.request.urlopen(base + path, timeout=120).read()
            results[name] = wrk(base, paths, seconds, {}, tmp, process.pid)
        if cache:
            with urllib.request.urlopen(base + "/", timeout=30) as response:
                etag = response.headers["ETag"]
            results["/ revalidated (304)"] = wrk(
                base, ["/"], seconds, {"If-None-Match": etag}, tmp, process.pid
            )
    finally:
        stop(process)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 papers, 4 s per run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_site needs wrk: apt-get install wrk")
    n_papers, seconds = (10_000, 4) if args.quick else (100_000, 10)
    rng = random.Random(1)
    with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = url
        os.environ["NEWSLETTER_SECRET_KEY"] = "bench-secret"  # the server's, for the feed link
        services.reset()
        dbmod.upgrade(url)
        ids, reader = fill(url, n_papers, rng)
        feed = f"/feeds/{make_token('feed', reader, 0)}.atom"
        stop_event = threading.Event()
        thread = threading.Thread(target=upvoter, args=(url, ids, stop_event, rng), daemon=True)
        thread.start()
        try:
            on = measure(url, ids, feed, 60, seconds, Path(tmp))
            off = measure(url, ids, feed, 0, seconds, Path(tmp))
        finally:
            stop_event.set()
            thread.join()
        services.reset()
    print(
        f"\n{n_papers:,} papers in PostgreSQL, {CONNECTIONS} connections, uvicorn --workers 2, "
        f"{UPDATES_PER_SECOND} upvote updates/s meanwhile; {os.cpu_count()} cores\n"
    )
    header = f"{'page':<22} {'cache on: req/s':>15} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>6}"
    header += f" {'load':>5} | {'cache off: req/s':>16} {'p50 ms':>7} {'p99 ms':>7}"
    header += f" {'cpu ms':>6} {'load':>5} | {'on/off':>6}"
    print(header)
    print("-" * len(header))
    for name, a in on.items():
        b = off.get(name)
        row = f"{name:<22} {a['rps']:>15.0f} {a['p50']:>7.1f} {a['p99']:>7.1f}"
        row += f" {a['cpu_ms']:>6.2f} {a['load']:>5.1f}"
        if b:
            row += f" | {b['rps']:>16.0f} {b['p50']:>7.1f} {b['p99']:>7.1f}"
            row += f" {b['cpu_ms']:>6.2f} {b['load']:>5.1f}"
            row += f" | {a['rps'] / b['rps']:>5.1f}x"
        bad = a["non2xx"] + (b["non2xx"] if b else 0)
        print(row + (f"  ({bad} non-2xx/3xx)" if bad else ""))


if __name__ == "__main__":
    main()
