"""Penalties: what a reader must not get, or should get less of.

Excluded outright: papers the reader already received, hid, liked, clicked or gave as
seeds, and papers with a negative keyword in the title. Demoted: papers close to one
the reader hid, and papers with a negative keyword only in the abstract.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Profile
from newsletter.ranking.signals import Cells, ReaderRows
from newsletter.ranking.signals.boosts import Asked
from newsletter.ranking.signals.references import Refs, group_max


def excluded(model: EditionModel, profiles: Sequence[Profile]) -> Cells:
    """Return (readers x papers) 1 where the reader already has or knows the paper."""
    rows: list[int] = []
    cols: list[int] = []
    index = model.index
    for reader, profile in enumerate(profiles):
        for arxiv_id in chain(
            profile.already_sent, profile.hidden, profile.seed_papers, profile.liked,
            profile.clicked,
        ):  # fmt: skip
            col = index.get(arxiv_id)
            if col is not None:
                rows.append(reader)
                cols.append(col)
    ones = np.ones(len(rows), dtype=np.float32)
    shape = (len(profiles), len(model))
    return Cells(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), ones, shape)


def hidden(refs: Refs, profiles: Sequence[Profile]) -> ReaderRows:
    """Return (readers x papers) the best cosine to any paper the reader hid, else 0."""
    groups = [[(a, 1.0) for a in p.hidden] for p in profiles]
    return group_max(refs.anchor_table, refs.position, groups)


def negative_keywords(asked: Asked) -> tuple[Cells, Cells]:
    """Return (readers x papers) 1 where a negative keyword is in the paper, and in its title.

    A negative keyword in the title: never show the paper. Only in the abstract: demote.
    """
    shape = (asked.negative_keywords.shape[0], asked.found.shape[1])
    out = []
    for where in (asked.found, asked.in_title):
        found = (asked.negative_keywords @ where).tocoo()
        out.append(Cells(found.row, found.col, np.ones(found.nnz, dtype=np.float32), shape))
    return out[0], out[1]
