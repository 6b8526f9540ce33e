"""Boosts: keyword phrases, popularity and freshness, and the reader's categories.

They add to relevance and never replace it: popularity and freshness only order papers
that are relevant enough already, and a phrase only in the abstract earns in proportion
to how close the paper's text is to the reader's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Profile
from newsletter.ranking.signals import Cells, incidence
from newsletter.ranking.weights import RankWeights


@dataclass
class Asked:
    """What a chunk's readers asked for by name: keyword phrases and categories.

    Keywords and negative keywords share one list of distinct phrases, each looked up
    in the papers once.
    """

    keyword_slots: list[list[tuple[str, int]]]  # per reader: (keyword as typed, phrase id)
    keywords: sparse.csr_matrix  # (readers x phrases) 0/1
    negative_keywords: sparse.csr_matrix  # (readers x phrases) 0/1
    found: sparse.csr_matrix  # (phrases x papers) phrase in the title or abstract
    in_title: sparse.csr_matrix  # (phrases x papers) phrase in the title
    category_cells: tuple[list[int], list[int]]  # (reader, category column)


def asked(model: EditionModel, profiles: Sequence[Profile]) -> Asked:
    """Look up the chunk's keyword phrases (each distinct one once) and categories."""
    phrase_ids: dict[str, int] = {}
    keyword_cells: tuple[list[int], list[int]] = ([], [])
    negative_cells: tuple[list[int], list[int]] = ([], [])
    slots: list[list[tuple[str, int]]] = []
    category_cells: tuple[list[int], list[int]] = ([], [])
    categories = model.category_index
    for reader, profile in enumerate(profiles):
        own = []
        for keyword in profile.keywords:
            pid = phrase_ids.setdefault(model.phrase_key(keyword), len(phrase_ids))
            keyword_cells[0].append(reader)
            keyword_cells[1].append(pid)
            own.append((keyword, pid))
        slots.append(own)
        for keyword in profile.negative_keywords:
            negative_cells[0].append(reader)
            negative_cells[1].append(
                phrase_ids.setdefault(model.phrase_key(keyword), len(phrase_ids))
            )
        for name in profile.categories:
            col = categories.get(name)
            if col is not None:
                category_cells[0].append(reader)
                category_cells[1].append(col)
    phrases = list(phrase_ids)
    return Asked(
        keyword_slots=slots,
        keywords=incidence(keyword_cells, len(profiles), len(phrases)),
        negative_keywords=incidence(negative_cells, len(profiles), len(phrases)),
        found=model.phrases.matrix(phrases),
        in_title=model.title_phrases.matrix(phrases),
        category_cells=category_cells,
    )


def phrases(asked: Asked, text: np.ndarray, text_top: np.ndarray, w: RankWeights) -> Cells:
    """Return the keyword bonus, w.keyword_weight * (1 - 0.5 ** hits), title hits counted twice.

    A phrase in the title says what the paper is about; one in the abstract may be a
    passing mention ("unlike diffusion models, ..."), so with `w.mention_scaled` it
    earns its bonus in proportion to how close the paper's text is to the reader's
    words (`text`, best `text_top`): in a paper on carbon footprints it is a mention,
    not the topic.
    """
    title_hits = (asked.keywords @ asked.in_title).tocsr()
    hits = (asked.keywords @ asked.found + title_hits).tocoo()
    bonus = w.keyword_weight * (1.0 - np.power(0.5, hits.data))
    if w.mention_scaled:
        n_cols = np.int64(text.shape[1])
        in_title_cells = title_hits.tocoo()
        titled = np.isin(
            hits.row * n_cols + hits.col, in_title_cells.row * n_cols + in_title_cells.col
        )
        closeness = text[hits.row, hits.col] / np.where(text_top > 0, text_top, 1.0)[hits.row]
        bonus = np.where(titled, bonus, bonus * np.minimum(closeness, 1.0))
    return Cells(hits.row, hits.col, bonus, text.shape)


def popularity(
    model: EditionModel, relevance: np.ndarray, silent: np.ndarray, w: RankWeights
) -> np.ndarray:
    """Return trending (log upvotes) and recency (half-life decay), where relevant enough.

    Popularity and age only order papers whose `relevance` reaches w.trending_floor of
    the best possible: the labels (and readers) want the relevant papers first, and a
    trending paper on another topic must not push a relevant one out. `silent` readers
    (no relevance signal at all: categories only) still get the trending order.
    """
    static = (w.trending_weight * model.trending + w.recency_weight * model.recency).astype(
        np.float32
    )
    if w.trending_floor <= 0:
        return np.broadcast_to(static, relevance.shape)
    gated = (relevance >= w.trending_floor * w.relevance_weight) | silent[:, None]
    return np.where(gated, static[None, :], np.float32(0))


def categories(model: EditionModel, asked: Asked) -> np.ndarray:
    """Return 1 where a paper is in one of the reader's categories (or archives), else 0.

    Categories are broad (thousands of papers each): a dense product is cheaper.
    """
    n_readers = len(asked.keyword_slots)
    if not asked.category_cells[0]:
        return np.zeros((n_readers, len(model)), dtype=np.float32)
    wanted = incidence(asked.category_cells, n_readers, model.category_matrix.shape[1])
    shared = np.asarray(wanted @ model.category_dense)  # how many: whole numbers
    return np.minimum(shared, np.float32(1), out=shared)
