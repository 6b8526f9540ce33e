"""Real-style messy papers for looking at a digest as a reader would: long titles, LaTeX
remnants, forty authors, no abstract, Hugging Face summaries and thumbnails."""

from __future__ import annotations

from newsletter.render.digest import Card
from tests.render import factories

THUMB = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png"


def messy_picks(trending: bool = True) -> list[Card]:
    p = factories.paper
    mine = [
        Card(
            p(
                1,
                title="Test-Time Adaptation of Vision-Language Models via Entropy-Regularised "
                "Prompt Tuning under O(1/n) Distribution Shift: Theory, Algorithms and a "
                "Large-Scale Benchmark Across 27 Datasets",
                ai_summary="EntPT adapts CLIP at test time by tuning prompts to minimise "
                "entropy, beating TPT by 4.2% on ImageNet-A.",
                authors=tuple(f"Author{j} Lastname{j}" for j in range(40)),
                affiliations=("MIT", "Google DeepMind", "ETH Zürich"),
                upvotes=128,
                num_comments=14,
                github_stars=2300,
                code_url="https://github.com/lab/entpt",
                thumbnail_url=THUMB.format("2411.00001"),
            ),
            "Your keyword 'test-time adaptation' in the title; in your category cs.CV",
        ),
        Card(
            p(
                2,
                title="Out-of-distribution detection with normalizing flows",
                abstract="Out-of-distribution (OOD) detection is crucial for deploying models "
                "in the wild. Existing methods, e.g. energy scores, rely on a fixed threshold. "
                "In this paper, we propose FlowOOD, a normalizing-flow detector trained on "
                "10^6 images that gains 4.2% AUROC over Mahalanobis on ImageNet-O. Code is "
                "released.",
                authors=("Ada Lovelace",),
                thumbnail_url=None,
            ),
            "Resembles “Energy-based Out-of-distribution Detection”, which you liked",
        ),
        Card(
            p(3, title="A paper with no abstract at all", abstract="", authors=()),
            "In your category cs.CV; also in cs.LG",
        ),
        Card(
            p(
                4,
                title="Σύνθεση: scaling laws for αβγ-transformers with $\\mathcal{L}$ losses",
                thumbnail_url=THUMB.format("2411.00004"),
                affiliations=("Université de Montréal",),
            ),
            "Related to your description",
        ),
    ]
    if not trending:
        return mine
    return [
        *mine,
        Card(
            p(
                5,
                title="Gemma 4 technical report",
                upvotes=412,
                num_comments=45,
                thumbnail_url=THUMB.format("2411.00005"),
            ),
            "Trending outside your interests: 412 upvotes, 45 comments",
            trending=True,
        ),
        Card(
            p(6, title="Protein folding at the scale of a genome", upvotes=233),
            "Trending outside your interests: 233 upvotes",
            trending=True,
        ),
    ]
