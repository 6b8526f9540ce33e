"""Rank 100,000 readers x 2,000 candidate papers, top 10 each: ours vs a naive loop.

Ours: newsletter.ranking.rank in chunks of readers (one fit per edition, then sparse and
dense matrix products per chunk, MMR diversity and reasons included). Naive: a loop per
reader that embeds the reader's query, scores every paper, walks the papers in Python for
categories, negatives and exclusions, and sorts; it is timed on a sample of readers and
extrapolated to all of them (printed as such).

The corpus is synthetic but shaped like the real thing: abstracts of ~150 words drawn
from topic vocabularies, readers with 1-3 keyword phrases, categories, some with a
description, seed papers (many outside the edition, so they come from the library),
likes, hides, clicks and papers already sent; 5% have enough feedback for their own
logistic-regression model.

With --dense, every paper, library paper, keyword and description also has a stored
384-dimensional vector (random here: this measures cost, not quality), as with
NEWSLETTER_EMBEDDINGS=minilm.

Usage: .venv/bin/python bench/bench_ranking.py [--quick] [--dense] [--readers N]
       [--papers N] [--chunk N] [--naive-sample N]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.ranking.model import EditionModel, fit_edition
from newsletter.ranking.profile import CandidatePaper, Profile
from newsletter.ranking.score import DenseVectors, rank

CATEGORIES = [
    "cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "cs.NE", "eess.AS",
    "cs.SD", "math.OC", "cs.CR", "q-bio.QM", "physics.comp-ph", "cs.HC", "cs.DC",
]  # fmt: skip
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_corpus(rng: random.Random, n_papers: int, n_library: int):
    vocab = [f"w{i}" for i in range(20000)]
    topics = [rng.sample(vocab, 60) for _ in range(200)]

    def text(topic: list[str], n: int) -> str:
        return " ".join(
            rng.choice(topic) if rng.random() < 0.5 else rng.choice(vocab) for _ in range(n)
        )

    def paper(prefix: str, i: int) -> CandidatePaper:
        t = rng.randrange(len(topics))
        return CandidatePaper(
            arxiv_id=f"{prefix}.{i:05d}",
            title=text(topics[t], 10),
            abstract=text(topics[t], 150),
            categories=rng.sample(CATEGORIES, rng.randint(1, 3)),
            upvotes=int(rng.expovariate(1 / 20)),
            published_at=NOW - timedelta(hours=rng.uniform(0, 72)),
        )

    candidates = [paper("2611", i) for i in range(n_papers)]
    library_papers = [paper("2610", i) for i in range(n_library)]
    library = {p.arxiv_id: p.text for p in library_papers}
    phrases = [" ".join(rng.sample(t, rng.choice([1, 2]))) for t in topics for _ in range(15)]
    return candidates, library, phrases, topics


def make_readers(rng: random.Random, n: int, candidates, library, phrases, topics):
    cand_ids = [p.arxiv_id for p in candidates]
    lib_ids = list(library)
    readers = []
    for _ in range(n):
        p = Profile(
            keywords=rng.sample(phrases, rng.randint(1, 3)),
            categories=rng.sample(CATEGORIES, rng.randint(0, 2)),
        )
        if rng.random() < 0.3:
            p.description = " ".join(rng.sample(rng.choice(topics), 12))
        if rng.random() < 0.4:
            p.seed_papers = rng.sample(lib_ids, rng.randint(1, 3))
        if rng.random() < 0.2:
            p.liked = rng.sample(lib_ids, rng.randint(1, 4))
        if rng.random() < 0.1:
            p.hidden = rng.sample(lib_ids, rng.randint(1, 3))
        if rng.random() < 0.1:
            p.negative_keywords = rng.sample(phrases, 1)
        p.already_sent = rng.sample(lib_ids, rng.randint(0, 20)) + rng.sample(cand_ids, 2)
        if rng.random() < 0.05:  # enough feedback for a per-reader model
            p.liked = rng.sample(lib_ids, 4)
            p.clicked = rng.sample(lib_ids, 4)
            p.hidden = rng.sample(lib_ids, 3)
        readers.append(p)
    return readers


def make_dense(candidates, library, readers, dims: int = 384) -> DenseVectors:
    """Random unit vectors for every paper and reader text (cost, not quality)."""
    rng = np.random.default_rng(1)
    ids = [p.arxiv_id for p in candidates] + list(library)
    texts = sorted({t for r in readers for t in r.keywords} | {r.description for r in readers})
    texts = [t for t in texts if t]

    def unit(n: int) -> np.ndarray:
        v = rng.standard_normal((n, dims)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return DenseVectors(
        papers=dict(zip(ids, unit(len(ids)), strict=True)),
        texts=dict(zip(texts, unit(len(texts)), strict=True)),
    )


def naive_rank(model: EditionModel, profile: Profile, k: int, library: dict[str, str]):
    """The straightforward way: one reader at a time, a Python pass over every paper."""
    query = " ".join([*profile.keywords, profile.description])
    scores = (model.vectors_for([query]) @ model.matrix.T).toarray()[0]
    anchors = [library.get(a, "") for a in [*profile.seed_papers, *profile.liked]]
    if anchors:
        sims = (model.vectors_for(anchors) @ model.matrix.T).toarray().max(axis=0)
        scores = scores + sims
    scores = scores + 0.15 * model.trending + 0.05 * model.recency
    excluded = set(profile.already_sent) | set(profile.hidden)
    wanted = set(profile.categories)
    negatives = [n.lower() for n in profile.negative_keywords]
    for i, paper in enumerate(model.papers):
        if wanted.intersection(paper.categories):
            scores[i] += 0.1
        text = paper.text.lower()
        if paper.arxiv_id in excluded or any(n in text for n in negatives):
            scores[i] = -np.inf
    order = np.argsort(-scores)[:k]
    return [(model.papers[i].arxiv_id, float(scores[i])) for i in order]


def python_speed() -> float:
    """Time a plain Python loop, to tell a busy machine from slow code when reading results."""
    started = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - started


_shared: dict = {}


def _work(bounds: tuple[int, int]) -> tuple[int, float]:
    """Rank one slice of readers in a forked worker (the model is inherited, not copied)."""
    start, stop = bounds
    model, readers, library, args = (
        _shared["model"], _shared["readers"], _shared["library"], _shared["args"],
    )  # fmt: skip
    picks = rank(
        model,
        readers[start:stop],
        args.top,
        library=library,
        chunk_size=args.chunk,
        dense=_shared["dense"],
    )
    return sum(len(p) == args.top for p in picks), rss_mb()


def run_workers(model, readers, library, args, dense) -> tuple[float, float]:
    """Split the readers over worker processes, as chunks spread over Celery workers."""
    import multiprocessing

    _shared.update(model=model, readers=readers, library=library, args=args, dense=dense)
    step = -(-len(readers) // args.workers)
    bounds = [(i, min(i + step, len(readers))) for i in range(0, len(readers), step)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(_work, bounds)
    elapsed = time.perf_counter() - started
    assert sum(full for full, _ in results) == len(readers)
    return elapsed, max(mb for _, mb in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 readers x 500 papers")
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--library", type=int, default=5_000, help="older papers readers cite")
    parser.add_argument("--chunk", type=int, default=250, help="readers per vectorised pass")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument(
        "--dense", action="store_true", help="also stored 384-d embeddings (the minilm option)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also rank with this many worker processes, as Celery workers share a chunked "
        "edition (0: skip)",
    )
    args = parser.parse_args()
    if args.quick:
        args.readers, args.papers, args.library, args.naive_sample = 5_000, 500, 1_000, 100

    rng = random.Random(7)
    candidates, library, phrases, topics = make_corpus(rng, args.papers, args.library)
    readers = make_readers(rng, args.readers, candidates, library, phrases, topics)
    dense = make_dense(candidates, library, readers) if args.dense else None
    gc.collect()
    base_mb = rss_mb()
    print(
        f"{args.readers:,} readers x {args.papers:,} candidates, top {args.top}, "
        f"chunks of {args.chunk:,}{', with 384-d embeddings' if dense else ''} "
        f"(inputs built; process at {base_mb:,.0f} MB)"
    )

    cpu_started = time.process_time()
    started = time.perf_counter()
    model = fit_edition(candidates, vectors=dense.papers if dense else None)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    picks = rank(model, readers, args.top, library=library, chunk_size=args.chunk, dense=dense)
    rank_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    peak_mb = rss_mb()
    assert all(len(p) == args.top for p in picks), "every reader should get a full digest"

    parallel_s = None
    if args.workers > 1:
        parallel_s, child_mb = run_workers(model, readers, library, args, dense)
        peak_mb = max(peak_mb, child_mb)

    sample = readers[: args.naive_sample]
    started = time.perf_counter()
    for reader in sample:
        naive_rank(model, reader, args.top, library)
    naive_each = (time.perf_counter() - started) / len(sample)
    naive_total = naive_each * len(readers)

    ours = fit_s + rank_s
    best = fit_s + (parallel_s if parallel_s is not None else rank_s)
    print(f"\n{'':<38}{'wall time':>12}{'per reader':>14}")
    print(f"{'ours: fit once per edition':<38}{fit_s:>11.2f}s")
    print(
        f"{'ours: rank all readers, 1 process':<38}{rank_s:>11.2f}s"
        f"{rank_s / len(readers) * 1e6:>11.0f} us"
    )
    print(f"{'ours: total, 1 process':<38}{ours:>11.2f}s   (CPU time {cpu_s:.2f}s)")
    if parallel_s is not None:
        label = f"ours: rank, {args.workers} worker processes"
        print(f"{label:<38}{parallel_s:>11.2f}s")
        print(f"{'ours: total, ' + str(args.workers) + ' worker processes':<38}{best:>11.2f}s")
    print(
        f"{'naive loop (extrapolated from ' + str(len(sample)) + ')':<38}"
        f"{naive_total:>11.2f}s{naive_each * 1e6:>11.0f} us"
    )
    print(
        f"\nspeed-up: {naive_total / ours:.1f}x faster than the naive loop in one process, "
        f"{naive_total / best:.1f}x with {max(args.workers, 1)} (wall time)"
    )
    print(
        f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"Python speed check: 10M additions take {python_speed():.2f}s here"
    )
    print(
        f"peak memory: {peak_mb:,.0f} MB for the largest process "
        f"({peak_mb - base_mb:+,.0f} MB over the built inputs)"
    )
    if not args.quick:
        goal = "met" if best < 20 and peak_mb < 2048 else "NOT met"
        print(f"goal (< 20 s and < 2 GB at 100k x 2k on 2 cores): {goal}")
    example = picks[0][0]
    print(f"example pick: {example.arxiv_id} score {example.score:.3f} ({example.reason})")


if __name__ == "__main__":
    main()
