"""Collect the ranking knobs in one object, read from settings (NEWSLETTER_RANK_*).

Every weight is a plain number so operators can tune the blend without a code change;
the defaults are what `bench/eval_ranking.py` was run with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletter.config import Settings


@dataclass(frozen=True)
class RankWeights:
    """How much each signal counts; see the module docstring of newsletter.ranking.score."""

    relevance: float = 1.0
    keyword: float = 0.3
    mention_scaled: bool = True
    trending: float = 0.15
    trending_floor: float = 0.5
    recency: float = 0.05
    half_life_days: float = 7.0
    category: float = 0.1
    feedback: float = 0.35
    hidden_penalty: float = 0.3
    negative_penalty: float = 0.3
    clicked_anchor: float = 0.6
    mmr_lambda: float = 0.75
    duplicate_similarity: float = 0.8
    min_feedback: int = 6
    dense_paper: float = 0.1
    dense_text: float = 0.8
    expansion: float = 0.5
    expansion_depth: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> RankWeights:
        return cls(
            relevance=settings.rank_relevance_weight,
            keyword=settings.rank_keyword_weight,
            trending=settings.rank_trending_weight,
            trending_floor=settings.rank_trending_floor,
            recency=settings.rank_recency_weight,
            half_life_days=settings.rank_half_life_days,
            category=settings.rank_category_weight,
            feedback=settings.rank_feedback_weight,
            hidden_penalty=settings.rank_hidden_penalty,
            negative_penalty=settings.rank_negative_penalty,
            clicked_anchor=settings.rank_clicked_weight,
            mmr_lambda=settings.rank_mmr_lambda,
            duplicate_similarity=settings.rank_duplicate_similarity,
            min_feedback=settings.rank_min_feedback,
            dense_paper=settings.rank_dense_paper_weight,
            dense_text=settings.rank_dense_text_weight,
            expansion=settings.rank_expansion_weight,
            expansion_depth=settings.rank_expansion_depth,
        )


def configured_weights() -> RankWeights:
    """Return the weights from the process settings."""
    from newsletter.config import get_settings

    return RankWeights.from_settings(get_settings())
