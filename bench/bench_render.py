"""Emails per second to finished MIME bytes: per-email Jinja + premailer vs our cached parts.

    .venv/bin/python bench/bench_render.py            # 1,000 readers, 10 papers each
    .venv/bin/python bench/bench_render.py --quick    # 100 readers (smoke run)

Both paths render the same readers' digests (same picks, reasons and signed links) to
the bytes a backend sends:
  (a) Jinja renders every email, premailer inlines it, EmailMessage serialises it;
  (b) newsletter.render: templates rendered and inlined once per edition (shells and
      paper cards, counted in the timing), each email joined from cached fragments and
      written as MIME from pre-encoded parts.
Then the whole email of the warm path (compose + sign every link + MIME bytes), with one
piece swapped at a time, to show what each of our own pieces pays:
  (c) every link signed by plain itsdangerous, one serializer per token
      (`subscriptions.links`), instead of `render.signing`;
  (c') every link signed by an itsdangerous subclass that keeps one signer per purpose,
      its key derived and its HMAC keyed once: the best the library does without our
      hand-written `render.signing.FastSigner`;
  (d) ours: `render.signing` and `mime.digest_bytes` (the same work as (b) warm);
  (e) the message serialised by the standard library (`mime.build_message`) instead
      of `mime.digest_bytes`.
One single-threaded process (one core at a time); it reports wall time and CPU time, as
the machine may be shared. It checks that every path produces the same HTML and text as
(a) before timing.
"""

from __future__ import annotations

import argparse
import email
import os
import random
import re
import sys
import time
from email import policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NEWSLETTER_SECRET_KEY", "bench-secret-key")
os.environ.setdefault("NEWSLETTER_BASE_URL", "https://papers.example.com")
os.environ.setdefault("NEWSLETTER_FROM", "Trending Papers <digest@papers.example.com>")

import functools
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from itsdangerous import Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.signer import HMACAlgorithm

from newsletter.config import get_settings
from newsletter.render.compose import message_bytes
from newsletter.render.digest import (
    ClickUrls,
    DigestPaper,
    EditionLabels,
    Pick,
    Reader,
    RenderedEmail,
    render_digest,
)
from newsletter.render.mime import build_message
from newsletter.render.parts import EditionParts
from newsletter.render.signing import SALT, click_urls, reader_links
from newsletter.subscriptions.links import (
    FEEDBACK_CHOICES,
    SubscriberLinks,
    click_link,
    feedback_link,
    links_for,
)

KEY = "daily-2026-11-26"
WORDS = (
    "model models language learning training data we our method methods propose results "
    "show task tasks performance large neural network networks approach based using "
    "benchmark benchmarks agents reasoning diffusion transformer attention efficient "
    "state-of-the-art evaluation framework datasets improves outperforms across robust"
).split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(12, 28))]
    return " ".join(words).capitalize() + "."


def candidate_papers(rng: random.Random, count: int) -> list[DigestPaper]:
    """arXiv-like papers: 8-12 sentence abstracts (~1,000-1,900 characters)."""
    papers = []
    for n in range(count):
        arxiv_id = f"2411.{10000 + n}"
        papers.append(
            DigestPaper(
                arxiv_id=arxiv_id,
                title=" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).title(),
                abstract=" ".join(sentence(rng) for _ in range(rng.randint(8, 12))),
                authors=tuple(f"Author{i} Surname{n}" for i in range(rng.randint(1, 12))),
                categories=tuple(rng.sample(["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"], 2)),
                upvotes=rng.randint(0, 150),
                abs_url=f"https://arxiv.org/abs/{arxiv_id}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                hf_url=f"https://huggingface.co/papers/{arxiv_id}" if n % 2 else None,
                code_url=f"https://github.com/lab/project{n}" if n % 3 == 0 else None,
                thumbnail_url=(
                    f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png"
                    if n % 2
                    else None
                ),
                # The richer cards: HF summaries, affiliations, comments and stars.
                ai_summary=sentence(rng) if n % 2 else None,
                affiliations=tuple(rng.sample(["MIT", "ETH Zürich", "Google DeepMind", "Inria"], 2))
                if n % 3
                else (),
                num_comments=rng.randint(0, 40),
                github_stars=rng.randint(10, 5000) if n % 3 == 0 else None,
            )
        )
    return papers


def readers_and_picks(
    count: int, papers_each: int
) -> tuple[list[DigestPaper], list[tuple[int, list[Pick]]]]:
    """The edition's candidates (most popular first) and each reader's picks among them."""
    rng = random.Random(20261126)
    pool = candidate_papers(rng, 300)
    # Trending papers are popular: readers' picks overlap, drawn with a skew to the top.
    weights = [1.0 / (1 + i) ** 0.7 for i in range(len(pool))]
    out = []
    for subscriber_id in range(1, count + 1):
        chosen: dict[str, DigestPaper] = {}
        while len(chosen) < papers_each:
            paper = rng.choices(pool, weights)[0]
            chosen[paper.arxiv_id] = paper
        picks = [
            Pick(
                paper,
                reason=f"Your keywords '{rng.choice(WORDS)}' and '{rng.choice(WORDS)}' in the "
                f"title; in your category {paper.categories[0]}",
            )
            for paper in chosen.values()
        ]
        # "Also trending": two of the most upvoted papers the reader was not picked.
        trending = [p for p in pool[:20] if p.arxiv_id not in chosen][:2]
        picks += [
            Pick(p, f"Trending outside your interests: {p.upvotes} upvotes", trending=True)
            for p in trending
        ]
        out.append((subscriber_id, picks))
    return pool, out


ReaderLinks = Callable[[int, int, str | None], SubscriberLinks]


def reader_of(subscriber_id: int, make_links: ReaderLinks = reader_links) -> Reader:
    """The reader's own values, signed links included (made per email in every path)."""
    links = make_links(subscriber_id, 0, KEY)
    return Reader(
        subscriber_id=subscriber_id,
        generation=0,
        email=f"reader{subscriber_id}@example.org",
        view_url=links.view or "",
        preferences_url=links.preferences,
        unsubscribe_url=links.unsubscribe,
        unsubscribe_mailto=links.unsubscribe_mailto,
        next_due="Fri 27 Nov 2026, 07:00 (Europe/London)",
        pool=412,
    )


def stdlib_message(rendered: RenderedEmail, reader: Reader) -> bytes:
    links = SubscriberLinks(
        reader.preferences_url, reader.unsubscribe_url, reader.unsubscribe_mailto, reader.view_url
    )
    return build_message(rendered, reader.email, links).as_bytes()


def naive(labels: EditionLabels, subscriber_id: int, picks: list[Pick]) -> bytes:
    reader = reader_of(subscriber_id)
    return stdlib_message(render_digest(labels, reader, picks, click_urls), reader)


def cached(parts: EditionParts, subscriber_id: int, picks: list[Pick]) -> bytes:
    reader = reader_of(subscriber_id)
    return message_bytes(parts.compose(reader, picks, click_urls), reader)


def plain_click_urls(reader: Reader, paper: DigestPaper) -> dict[str, str | None]:
    """Each of the paper's links signed by `links.click_link`: plain itsdangerous."""
    sid, gen = reader.subscriber_id, reader.generation
    urls = {target: click_link(sid, gen, paper.arxiv_id, target) for target in paper.targets}
    for choice in FEEDBACK_CHOICES:
        urls[choice] = feedback_link(sid, gen, paper.arxiv_id, choice)
    return urls


def plain_signing(parts: EditionParts, subscriber_id: int, picks: list[Pick]) -> bytes:
    """(c): the warm path with every link signed by plain itsdangerous."""
    reader = reader_of(subscriber_id, links_for)
    clicks: ClickUrls = plain_click_urls
    return message_bytes(parts.compose(reader, picks, clicks), reader)


class KeyedHMAC(HMACAlgorithm):
    """HMAC keyed once per key: `hmac` objects copy their keyed state."""

    def __init__(self, digest_method: Any = None) -> None:
        super().__init__(digest_method)
        self.keyed: dict[bytes, Any] = {}

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        keyed = self.keyed.get(key)
        if keyed is None:
            keyed = self.keyed[key] = hmac.new(key, digestmod=self.digest_method)
        mac = keyed.copy()
        mac.update(value)
        return mac.digest()


class KeptSigner(TimestampSigner):
    """A TimestampSigner that derives its key once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.algorithm = KeyedHMAC(self.digest_method)
        self.key = super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self.key if secret_key is None else super().derive_key(secret_key)


class KeptSerializer(URLSafeTimedSerializer):
    """A URLSafeTimedSerializer that keeps one signer for its own salt."""

    default_signer = KeptSigner

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None or salt == self.salt:
            return self.own_signer
        return super().make_signer(salt)

    @functools.cached_property
    def own_signer(self) -> Signer:
        return super().make_signer(self.salt)


@functools.cache
def kept(purpose: str) -> KeptSerializer:
    return KeptSerializer(get_settings().secret_key, salt=SALT.format(purpose=purpose))


def kept_links(subscriber_id: int, generation: int, edition_key: str | None) -> SubscriberLinks:
    """`links_for`, signed by the kept serializers."""
    settings = get_settings()
    base, ids = settings.base_url, (subscriber_id, generation)
    unsubscribe = kept("unsubscribe").dumps([*ids, ""])
    return SubscriberLinks(
        preferences=f"{base}/preferences/{kept('preferences').dumps([*ids, ''])}",
        unsubscribe=f"{base}/unsubscribe/{unsubscribe}",
        unsubscribe_mailto=(
            f"mailto:{settings.sender_address}?subject=" + quote(f"unsubscribe {unsubscribe}")
        ),
        view=f"{base}/digest/{kept('view').dumps([*ids, edition_key])}",
    )


def kept_click_urls(reader: Reader, paper: DigestPaper) -> dict[str, str | None]:
    base = get_settings().base_url + "/c/"
    sign = kept("click").dumps
    sid, gen, arxiv_id = reader.subscriber_id, reader.generation, paper.arxiv_id
    urls: dict[str, str | None] = {
        t: base + sign([sid, gen, f"{arxiv_id}|{t}"]) for t in paper.targets
    }
    feedback, base_f = kept("feedback").dumps, get_settings().base_url + "/f/"
    for choice in FEEDBACK_CHOICES:
        urls[choice] = base_f + feedback([sid, gen, f"{arxiv_id}|{choice}"])
    return urls


def kept_signing(parts: EditionParts, subscriber_id: int, picks: list[Pick]) -> bytes:
    """(c'): the warm path with every link signed by the itsdangerous subclass."""
    reader = reader_of(subscriber_id, kept_links)
    clicks: ClickUrls = kept_click_urls
    return message_bytes(parts.compose(reader, picks, clicks), reader)


def stdlib_mime(parts: EditionParts, subscriber_id: int, picks: list[Pick]) -> bytes:
    """(e): the warm path with the message serialised by the standard library."""
    reader = reader_of(subscriber_id)
    composed = parts.compose(reader, picks, click_urls)
    rendered = RenderedEmail(composed.subject, composed.html_str, composed.text_str)
    return stdlib_message(rendered, reader)


TOKEN = re.compile(r"/(c|f|digest|preferences|unsubscribe)/[A-Za-z0-9_.-]+")


def bodies(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # Signed links carry the second they were made; compare everything else exactly.
    return tuple(TOKEN.sub(r"/\1/T", s.replace("\r\n", "\n")) for s in (text, html))  # type: ignore[return-value]


class Clock:
    """Wall and CPU time spent in one path, accumulated over chunks."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.out: list[bytes] = []

    def run(self, work) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        out = work()
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        self.out.extend(out)


CHUNK = 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 readers instead of 1,000")
    parser.add_argument("--readers", type=int, default=None)
    parser.add_argument("--papers", type=int, default=10)
    args = parser.parse_args()
    count = args.readers or (100 if args.quick else 1000)

    labels = EditionLabels.from_key(KEY)
    candidates, work = readers_and_picks(count, args.papers)
    # Warm-up outside the timing: imports, cssutils' first parse, template compilation.
    check = EditionParts(labels)
    for subscriber_id, picks in work[:5]:
        expected = bodies(naive(labels, subscriber_id, picks))
        for path in (cached, plain_signing, kept_signing, stdlib_mime):
            assert bodies(path(check, subscriber_id, picks)) == expected, path.__name__
    # The steady state of a worker deep into an edition: every card already inlined.
    warm = EditionParts(labels)
    for subscriber_id, picks in work:
        warm.ensure(picks, lambda start, n: candidates[start : start + n])
        cached(warm, subscriber_id, picks)
    cold = EditionParts(labels)

    def cold_chunk(chunk):
        # As compose_delivery does: make sure the picks' cards are inlined (a miss
        # inlines the next batch of the edition's candidates with them), then compose.
        out = []
        for subscriber_id, picks in chunk:
            cold.ensure(picks, lambda start, n: candidates[start : start + n])
            out.append(cached(cold, subscriber_id, picks))
        return out

    # Interleaved in small chunks so that every path sees the same machine load.
    load_before = os.getloadavg()
    a, b, w, c, k, e = Clock(), Clock(), Clock(), Clock(), Clock(), Clock()
    for start in range(0, count, CHUNK):
        chunk = work[start : start + CHUNK]
        a.run(lambda chunk=chunk: [naive(labels, s, p) for s, p in chunk])
        b.run(lambda chunk=chunk: cold_chunk(chunk))
        w.run(lambda chunk=chunk: [cached(warm, s, p) for s, p in chunk])
        c.run(lambda chunk=chunk: [plain_signing(warm, s, p) for s, p in chunk])
        k.run(lambda chunk=chunk: [kept_signing(warm, s, p) for s, p in chunk])
        e.run(lambda chunk=chunk: [stdlib_mime(warm, s, p) for s, p in chunk])

    html_kb = sum(len(bodies(raw)[1].encode()) for raw in b.out[:50]) / min(50, count) / 1024
    mime_kb = sum(len(raw) for raw in b.out) / count / 1024
    print(
        f"{count:,} readers x {args.papers} papers -> finished MIME bytes "
        f"(~{html_kb:.0f} KB HTML, {mime_kb:.0f} KB message), one thread\n"
    )
    print(f"{'':38} {'emails/s':>10} {'(cpu)':>10} {'ms/email':>9} {'premailer':>10}")
    rows = [
        ("(a) Jinja + premailer per email", a, count),
        ("(b) cached parts, cold edition", b, cold.premailer_runs),
        ("(b) cached parts, warm", w, 0),
    ]
    for name, clock, premailer_runs in rows:
        print(
            f"{name:38} {count / clock.wall:10,.0f} {count / clock.cpu:10,.0f} "
            f"{1000 * clock.wall / count:9.2f} {premailer_runs:10,}"
        )
    print(
        f"\nratio (b)/(a): cold {a.wall / b.wall:,.0f}x wall ({a.cpu / b.cpu:,.0f}x cpu), "
        f"warm {a.wall / w.wall:,.0f}x wall ({a.cpu / w.cpu:,.0f}x cpu)"
    )
    print(
        "cold: this edition's premailer runs are in the timing (a real edition spreads them "
        "over all its readers)"
    )
    print("\nwhole email, warm edition: compose + sign every link + MIME bytes")
    print(f"{'':38} {'emails/s':>10} {'(cpu)':>10} {'ms/email':>9}")
    for name, clock in (
        ("(c) plain itsdangerous signing", c),
        ("(c') itsdangerous, kept signers", k),
        ("(d) ours: signing.py + digest_bytes", w),
        ("(e) MIME by build_message", e),
    ):
        print(
            f"{name:38} {count / clock.wall:10,.0f} {count / clock.cpu:10,.0f} "
            f"{1000 * clock.wall / count:9.2f}"
        )
    print(
        f"signing.py pays (c)/(d): {c.wall / w.wall:.1f}x wall ({c.cpu / w.cpu:.1f}x cpu), "
        f"(c')/(d): {k.wall / w.wall:.1f}x wall ({k.cpu / w.cpu:.1f}x cpu)\n"
        f"digest_bytes pays (e)/(d): {e.wall / w.wall:.1f}x wall ({e.cpu / w.cpu:.1f}x cpu)"
    )
    # On a shared machine wall time depends on the others' load: say what it was.
    print(
        "load average (1, 5, 15 min) before {} / after {}, {} cores".format(
            ", ".join(f"{x:.1f}" for x in load_before),
            ", ".join(f"{x:.1f}" for x in os.getloadavg()),
            os.cpu_count(),
        )
    )
    assert all(len(clock.out) == count for clock in (a, b, w, c, k, e))


if __name__ == "__main__":
    main()
