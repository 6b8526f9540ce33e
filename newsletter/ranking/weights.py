"""The ranking's knobs: the `ranking` section of the settings (NEWSLETTER_RANK_*).

`RankWeights` is that section itself, so a weight is declared once, in
newsletter/config.py, and read here as the operator set it.
"""

from __future__ import annotations

from newsletter.config import RankWeights, get_settings

__all__ = ["RankWeights", "configured_weights"]


def configured_weights() -> RankWeights:
    """Return the weights from the process settings."""
    return get_settings().ranking
