"""Papers and readers for render tests, shaped like what ingest stores."""

from __future__ import annotations

from newsletter.render.digest import Card, DigestPaper, Reader
from newsletter.render.signing import direct_urls, reader_links
from newsletter.subscriptions.links import FEEDBACK_CHOICES, click_link, feedback_link

# A realistic abstract: ~1,100 characters, several sentences.
ABSTRACT = (
    "Large language models are increasingly used as agents that plan, call tools and "
    "revise their own outputs. We study how such agents fail when the environment "
    "changes under them, and propose a benchmark of 1,200 tasks with controlled "
    "distribution shifts. Our analysis shows that most failures come from stale "
    "beliefs rather than from poor reasoning: agents keep acting on observations that "
    "no longer hold. We introduce a simple belief-refresh step that re-reads the "
    "environment before each action, which improves success rates by 14 points on "
    "average across six model families. The method needs no fine-tuning and adds "
    "under 5 % to the token budget. We release code, data and an evaluation harness "
    "so that others can reproduce and extend our results on new environments and "
    "with new models, including open-weight ones."
)


def paper(number: int, **overrides: object) -> DigestPaper:
    arxiv_id = f"2411.{number:05d}"
    fields: dict[str, object] = {
        "arxiv_id": arxiv_id,
        "title": f"Agents that notice when the world changes, part {number}",
        "abstract": ABSTRACT,
        "authors": tuple(f"Author Number{j} Surname" for j in range(1 + number % 7)),
        "categories": ("cs.LG", "cs.CL", "cs.AI")[: 1 + number % 3],
        "upvotes": (number * 7) % 90,
        "abs_url": f"https://arxiv.org/abs/{arxiv_id}",
        "pdf_url": f"https://arxiv.org/pdf/{arxiv_id}",
        "hf_url": f"https://huggingface.co/papers/{arxiv_id}" if number % 2 else None,
        "code_url": f"https://github.com/lab/repo{number}" if number % 3 == 0 else None,
        "thumbnail_url": (
            f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png"
            if number % 4 == 0
            else None
        ),
    }
    fields.update(overrides)
    return DigestPaper(**fields)  # type: ignore[arg-type]


def picks(count: int = 10, **overrides: object) -> list[Card]:
    return [
        Card(paper(n, **overrides), reason=f"matches 'agents' and 'planning', in cs.LG ({n})")
        for n in range(1, count + 1)
    ]


def reader(
    subscriber_id: int = 42,
    email: str = "ada@example.org",
    edition_key: str = "daily-2026-11-26",
    next_due: str | None = "Fri 27 Nov 2026, 07:00 (Europe/London)",
    *,
    pool: int = 0,
    tracking: bool = True,
) -> Reader:
    links = reader_links(subscriber_id, 0, edition_key)
    return Reader(
        subscriber_id=subscriber_id,
        generation=0,
        email=email,
        view_url=links.view or "",
        preferences_url=links.preferences,
        unsubscribe_url=links.unsubscribe,
        unsubscribe_mailto=links.unsubscribe_mailto,
        next_due=next_due,
        pool=pool,
        tracking=tracking,
    )


def reference_click_urls(reader: Reader, paper: DigestPaper) -> dict[str, str | None]:
    """Each of the paper's links as `links.click_link` (or, untracked, the paper's own URL)
    and `links.feedback_link` make them: the reference."""
    sid, gen = reader.subscriber_id, reader.generation
    urls = (
        {target: click_link(sid, gen, paper.arxiv_id, target) for target in paper.targets}
        if reader.tracking
        else direct_urls(paper)
    )
    for choice in FEEDBACK_CHOICES:
        urls[choice] = feedback_link(sid, gen, paper.arxiv_id, choice)
    return urls
