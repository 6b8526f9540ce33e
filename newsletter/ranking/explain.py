"""Say in a few words why a paper was picked for a reader.

The reason names the strongest relevance signal first (a keyword phrase found in the
paper, closeness to a seed or liked paper, the reader's feedback model, their
description), then the category and the upvotes: "matches 'test-time adaptation', in
cs.LG, 128 upvotes". It reads the signals the ranker already computed; nothing is
recomputed per pick except lookups in the reader's own short lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Profile

# Signals are scaled so the reader's best candidate is 1; below these fractions of the
# best, a similarity is too weak to be worth naming.
SIMILAR = 0.4
RELATED = 0.3


@dataclass
class Signals:
    """The per-chunk arrays a reason is read from (readers x papers unless noted)."""

    keyword_slots: list[list[tuple[str, int]]]  # per reader: (keyword as typed, phrase id)
    found: np.ndarray  # (phrases x papers) keyword phrase present
    text: np.ndarray  # scaled to the reader's best candidate, as are the next two
    has_text: np.ndarray  # (readers,)
    seed_sim: np.ndarray
    liked_sim: np.ndarray
    feedback: np.ndarray
    has_model: np.ndarray  # (readers,)
    category: np.ndarray


def explain(model: EditionModel, profile: Profile, s: Signals, reader: int, col: int) -> str:
    """Return the reason paper `col` was picked for `reader`."""
    paper = model.papers[col]
    parts: list[str] = []
    matched = [kw for kw, pid in s.keyword_slots[reader] if s.found[pid, col]]
    seed, liked = float(s.seed_sim[reader, col]), float(s.liked_sim[reader, col])
    if matched:
        parts.append("matches " + " and ".join(f"'{kw}'" for kw in matched[:2]))
    elif max(seed, liked) >= SIMILAR:
        if liked > seed:
            parts.append("similar to a paper you liked")
        else:
            parts.append("similar to " + _closest_seed(model, profile, col))
    elif s.has_model[reader] and s.feedback[reader, col] >= 0.75:
        parts.append("like papers you liked or clicked")
    elif s.has_text[reader] and s.text[reader, col] >= RELATED:
        parts.append("related to your " + ("description" if profile.description else "keywords"))
    if s.category[reader, col]:
        wanted = set(profile.categories)
        shared = [c for c in paper.categories if c in wanted or c.split(".")[0] in wanted]
        if shared:
            parts.append(f"in {shared[0]}")
    if paper.upvotes > 0:
        parts.append(f"{paper.upvotes} upvote" + ("" if paper.upvotes == 1 else "s"))
    if not parts:
        return "new this edition" if model.recency[col] >= 0.5 else "trending today"
    return ", ".join(parts)


def _closest_seed(model: EditionModel, profile: Profile, col: int) -> str:
    seeds = [a for a in profile.seed_papers if a in model.index]
    if seeds:
        # Seeds among the candidates: name the closest one.
        rows = np.array([model.index[a] for a in seeds])
        best = seeds[int(np.argmax(model.similarity_rows(rows)[:, col]))]
        return f"your seed paper {best}"
    if len(profile.seed_papers) == 1:
        return f"your seed paper {profile.seed_papers[0]}"
    return "your seed papers"
