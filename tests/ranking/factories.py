"""Small hand-made editions for ranking tests: a few topics with their own vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsletter.ranking.profile import CandidatePaper

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)

TOPICS = {
    "graph": (
        "graph neural networks",
        "message passing over molecular graphs with node embeddings and edge features",
    ),
    "diffusion": (
        "diffusion models",
        "denoising score matching generates high resolution images from noise with a sampler",
    ),
    "rl": (
        "reinforcement learning",
        "an agent learns a policy from sparse reward in simulated robotic control tasks",
    ),
    "llm": (
        "language model reasoning",
        "chain-of-thought prompting lets large language models solve math word problems",
    ),
    "tta": (
        "test-time adaptation",
        "adapting a trained classifier under distribution shift at deployment without labels",
    ),
}
VARIANTS = [
    "A simple baseline for {t}",
    "Scaling {t} to larger benchmarks",
    "Understanding the failure modes of {t}",
    "Efficient {t} with fewer parameters",
]
# A distinct second half per variant, so papers of one topic are related, not duplicates.
DETAILS = [
    "Experiments cover three datasets, careful ablations of every component and several "
    "strong baselines that were tuned with equal budgets.",
    "We release code, pretrained checkpoints and a public leaderboard so that future work "
    "can reproduce each number and compare fairly.",
    "A theoretical analysis bounds the error, explains when the approach breaks down and "
    "predicts the trends measured in practice.",
    "Pruning and quantisation shrink the network, halving latency on phones while keeping "
    "accuracy within one point.",
]
CATEGORY = {"graph": "cs.LG", "diffusion": "cs.CV", "rl": "cs.AI", "llm": "cs.CL", "tta": "cs.LG"}


def paper(
    arxiv_id: str,
    title: str,
    abstract: str = "",
    categories: list[str] | None = None,
    upvotes: int = 0,
    days_old: float = 0.0,
) -> CandidatePaper:
    return CandidatePaper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        categories=categories or [],
        upvotes=upvotes,
        published_at=NOW - timedelta(days=days_old),
    )


def edition(upvotes: int = 10) -> list[CandidatePaper]:
    """Return 20 papers: 4 per topic, ids like 'graph.1', equal upvotes and age."""
    papers = []
    for topic, (phrase, sentence) in TOPICS.items():
        for i, variant in enumerate(VARIANTS, start=1):
            papers.append(
                paper(
                    f"{topic}.{i}",
                    variant.format(t=phrase),
                    f"We study {phrase}: {sentence}. {DETAILS[i - 1]} Results improve "
                    "on standard benchmarks.",
                    [CATEGORY[topic]],
                    upvotes=upvotes,
                )
            )
    return papers


def topic_of(arxiv_id: str) -> str:
    return arxiv_id.split(".")[0]
