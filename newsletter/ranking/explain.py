"""Say in a few words why each paper was picked for a reader.

The reason names the strongest relevance signal first (a keyword phrase found in the
paper, closeness to a seed or liked paper, the reader's feedback model, their
description), then the category and the upvotes: "matches 'test-time adaptation', in
cs.LG, 128 upvotes". The ranker gathers the signals at every pick in one array pass;
here only the words are put together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Pick, Profile

# Signals are scaled so the reader's best candidate is 1; below these fractions of the
# best, a similarity is too weak to be worth naming.
SIMILAR = 0.4
RELATED = 0.3
MODEL_CONFIDENT = 0.75


@dataclass
class PickSignals:
    """Each signal's value at each pick: arrays of shape (readers, k) unless noted."""

    cols: np.ndarray  # chosen paper columns, -1 where the digest ran short
    score: np.ndarray
    keyword_slots: list[list[tuple[str, int]]]  # per reader: (keyword as typed, phrase id)
    found: sparse.csr_matrix  # (phrases x papers) keyword phrase present
    text: np.ndarray
    has_text: np.ndarray  # (readers,)
    seed: np.ndarray
    liked: np.ndarray
    model: np.ndarray
    has_model: np.ndarray  # (readers,)


def _keyword_hits(s: PickSignals) -> np.ndarray:
    """Return (readers, slots, k): whether the reader's i-th keyword is in the j-th pick."""
    width = max((len(own) for own in s.keyword_slots), default=0)
    n_readers, k = s.cols.shape
    if width == 0:
        return np.zeros((n_readers, 0, k), dtype=bool)
    ids = np.full((n_readers, width), -1, dtype=np.int64)
    for reader, own in enumerate(s.keyword_slots):
        ids[reader, : len(own)] = [pid for _, pid in own]
    cols = np.where(s.cols >= 0, s.cols, 0)
    present = ids >= 0
    # Look each (phrase, paper) pair up among the matrix's stored cells: no dense copy.
    found = s.found.tocoo()
    n_papers = s.found.shape[1]
    stored = np.sort(found.row.astype(np.int64) * n_papers + found.col)
    wanted = np.where(present, ids, 0)[:, :, None] * n_papers + cols[:, None, :]
    spot = np.minimum(np.searchsorted(stored, wanted), max(len(stored) - 1, 0))
    hits = (stored[spot] == wanted) if len(stored) else np.zeros(wanted.shape, dtype=bool)
    return np.asarray(hits & present[:, :, None])


def explain_chunk(
    model: EditionModel, profiles: Sequence[Profile], s: PickSignals
) -> list[list[Pick]]:
    """Turn each reader's chosen columns into Picks with their reasons."""
    hits = _keyword_hits(s)
    any_hit = np.asarray(hits.any(axis=1)) if hits.shape[1] else np.zeros(s.cols.shape, bool)
    papers = model.papers
    recent = (model.recency >= 0.5).tolist()
    # Plain Python lists: element access on them is far cheaper than on numpy arrays,
    # and this loop runs once per pick (a million times for 100k readers).
    cols_l, score_l, hit_l = s.cols.tolist(), s.score.tolist(), any_hit.tolist()
    seed_l, liked_l, text_l, model_l = (
        s.seed.tolist(), s.liked.tolist(), s.text.tolist(), s.model.tolist(),
    )  # fmt: skip
    has_model, has_text = s.has_model.tolist(), s.has_text.tolist()
    out: list[list[Pick]] = []
    for reader, profile in enumerate(profiles):
        picks: list[Pick] = []
        wanted = set(profile.categories)
        for j, col in enumerate(cols_l[reader]):
            if col < 0:
                break
            paper = papers[col]
            parts: list[str] = []
            if hit_l[reader][j]:
                own = s.keyword_slots[reader]
                matched = [own[i][0] for i in range(len(own)) if hits[reader, i, j]][:2]
                parts.append("matches " + " and ".join(f"'{kw}'" for kw in matched))
            else:
                seed, liked = seed_l[reader][j], liked_l[reader][j]
                if seed >= SIMILAR or liked >= SIMILAR:
                    if liked > seed:
                        parts.append("similar to a paper you liked")
                    else:
                        parts.append("similar to " + _closest_seed(model, profile, col))
                elif has_model[reader] and model_l[reader][j] >= MODEL_CONFIDENT:
                    parts.append("like papers you liked or clicked")
                elif has_text[reader] and text_l[reader][j] >= RELATED:
                    kind = "description" if profile.description else "keywords"
                    parts.append(f"related to your {kind}")
            if wanted:
                for category in paper.categories:
                    if category in wanted or category.split(".")[0] in wanted:
                        parts.append(f"in {category}")
                        break
            if paper.upvotes > 0:
                parts.append(f"{paper.upvotes} upvote{'' if paper.upvotes == 1 else 's'}")
            if not parts:
                parts.append("new this edition" if recent[col] else "trending today")
            picks.append(Pick(paper.arxiv_id, score_l[reader][j], ", ".join(parts)))
        out.append(picks)
    return out


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
