"""Rank an edition's candidates for many readers at once, with a reason for every pick.

The text model is fitted once per edition (`fit_edition`); each chunk of readers is then
scored with sparse/dense matrix products, never a Python loop over papers per reader.

Score of paper p for reader u (every weight is a setting, default in brackets):

    relevance  = mean of the reader's active text signals, each scaled so the reader's
                 best candidate is 1:
                   - tf-idf cosine (1-2 grams, sublinear tf, fitted on the edition's
                     candidates) of the keywords (counted twice) + description;
                   - the best cosine to any one seed / liked paper (clicked papers count
                     NEWSLETTER_RANK_CLICKED_WEIGHT [0.6] as much). Max over seeds, not
                     their average: averaging several interests blurs them into none.
                     Liked/clicked papers may also count through their centroid (max of
                     the two), as likes tend to share one theme.
                 With stored sentence embeddings (NEWSLETTER_EMBEDDINGS, see dense.py),
                 each of the two is mixed with its dense counterpart, rescaled onto the
                 tf-idf signal's own range: the best dense match of any one keyword or
                 description with share NEWSLETTER_RANK_DENSE_TEXT_WEIGHT [0.8] (short
                 texts are where exact words fail), the seed/liked papers' with share
                 NEWSLETTER_RANK_DENSE_PAPER_WEIGHT [0.1]. Chosen on the tuning half of
                 bench/eval_ranking.py.
                 Without a dense match, the keyword/description signal is expanded
                 instead: mixed with similarity to the reader's best
                 NEWSLETTER_RANK_EXPANSION_DEPTH [2] matches, share
                 NEWSLETTER_RANK_EXPANSION_WEIGHT [0.5] (pseudo-relevance feedback).
                 Once a reader has NEWSLETTER_RANK_MIN_FEEDBACK [6] labelled papers (at
                 least 2 liked/clicked and 2 hidden/ignored), a per-reader logistic
                 regression over tf-idf (see feedback.py) is mixed in with weight
                 NEWSLETTER_RANK_FEEDBACK_WEIGHT [0.35].
    score      = NEWSLETTER_RANK_RELEVANCE_WEIGHT [1.0]  * relevance
               + NEWSLETTER_RANK_KEYWORD_WEIGHT   [0.3]  * (1 - 0.5 ** phrase hits, title twice)
                 (a phrase only in the abstract: times the paper's text relevance, so a
                 passing mention earns little)
               + NEWSLETTER_RANK_TRENDING_WEIGHT  [0.15] * log(1 + upvotes) / log(1 + max upvotes)
               + NEWSLETTER_RANK_RECENCY_WEIGHT   [0.05] * 0.5 ** (age / half-life)
                 (these two only where relevance >= NEWSLETTER_RANK_TRENDING_FLOOR [0.5],
                 or for readers with no relevance signal: popularity orders relevant
                 papers, it never pushes an off-topic paper above them)
               + NEWSLETTER_RANK_CATEGORY_WEIGHT  [0.1]  * (shares a category with the reader)
               - NEWSLETTER_RANK_HIDDEN_PENALTY   [0.3]  * best cosine to a hidden paper

Age is measured from the edition's newest paper; the half-life is
NEWSLETTER_RANK_HALF_LIFE_DAYS [7]. Excluded outright: papers the reader
already received, hid, liked, clicked or gave as seeds, and papers with a negative
keyword in the title; one only in the abstract costs NEWSLETTER_RANK_NEGATIVE_PENALTY
[0.3]. The digest is then chosen from the best 3k by maximal marginal relevance
(NEWSLETTER_RANK_MMR_LAMBDA [0.75]: 1 = pure score, lower = more varied), and a paper
whose cosine to an already chosen one reaches NEWSLETTER_RANK_DUPLICATE_SIMILARITY [0.8]
is never added: no digest of five near-duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from newsletter.ranking.dense import DenseVectors, scaled_similarity, stack
from newsletter.ranking.explain import PickSignals, explain_chunk
from newsletter.ranking.feedback import balanced_weights, decision, fit_dual
from newsletter.ranking.model import EditionModel, fit_edition
from newsletter.ranking.profile import Pick, Profile
from newsletter.ranking.weights import RankWeights

__all__ = ["CHUNK_SIZE", "DenseVectors", "EditionModel", "RankWeights", "fit_edition", "rank"]

# Readers per vectorised pass: a few (chunk x papers) float32 matrices at a time.
CHUNK_SIZE = 250
# Share of candidates with a vector below which embeddings are left out (dense_ready).
DENSE_MIN_COVERAGE = 0.8
# Feedback models are trained in sub-batches to bound the (batch, n, papers) kernel.
FEEDBACK_BATCH = 128
MAX_POSITIVES = 32
MAX_NEGATIVES = 32
IMPLICIT_NEGATIVE_STRENGTH = 0.3
CLICK_STRENGTH = 0.5


def rank(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    *,
    weights: RankWeights | None = None,
    library: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    dense: DenseVectors | None = None,
) -> list[list[Pick]]:
    """Return the top `k` picks for each profile, best first, each with a reason.

    `library` maps arXiv ids of papers outside the candidates (older seeds, liked,
    hidden or sent papers) to their text, so they can still steer the ranking.
    `dense` holds stored sentence embeddings of such papers and of the readers'
    keywords and descriptions; they count only if the model has candidate vectors too.
    """
    weights = weights or RankWeights()
    if not len(model) or not profiles or k <= 0:
        return [[] for _ in profiles]
    # One BLAS thread: the products here are many and small, where OpenBLAS's threads
    # spin-wait for work and burn a second core for nothing (measured: twice the CPU
    # time), and parallelism comes from worker processes, one chunk each.
    with threadpool_limits(limits=1, user_api="blas"):
        return _rank(model, profiles, k, weights, library or {}, chunk_size, dense)


def _rank(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    weights: RankWeights,
    library: Mapping[str, str],
    chunk_size: int,
    dense: DenseVectors | None,
) -> list[list[Pick]]:
    # Every paper the readers point at is embedded and compared with the candidates
    # once for the whole call, however many chunks follow.
    refs = _refs(model, profiles, library)
    texts = None
    if dense_ready(model):
        dense = dense or DenseVectors()
        if weights.dense_paper > 0:
            _mix_dense_refs(model, refs, dense, weights.dense_paper)
        if weights.dense_text > 0:
            texts = _text_table(model, profiles, dense)
    static = (weights.trending * model.trending + weights.recency * model.recency).astype(
        np.float32
    )
    picks: list[list[Pick]] = []
    for start in range(0, len(profiles), chunk_size):
        chunk = profiles[start : start + chunk_size]
        picks.extend(_rank_chunk(model, chunk, k, weights, refs, static, texts))
    return picks


def dense_ready(model: EditionModel) -> bool:
    """Whether enough candidates have vectors for the dense signal to help, not hurt.

    Papers without a vector rank by tf-idf alone, which is on a different footing from
    the mixed scores of the others. On the evaluation set (bench/eval_ranking.py, papers
    embedded at random) nDCG@10 was 0.769 with half of them embedded, 0.812 with 80 %
    and 0.851 with all, against 0.799 for tf-idf with expansion alone: below this share
    the edition ranks as the default install does until the embed task catches up.
    """
    if model.dense is None or model.dense_known is None or not len(model.dense_known):
        return False
    return float(model.dense_known.mean()) >= DENSE_MIN_COVERAGE


@dataclass
class _Refs:
    """Papers readers refer to (seeds, liked, clicked, hidden, sent), embedded once."""

    position: dict[str, int]
    vectors: sparse.csr_matrix  # (refs, vocabulary)
    to_candidates: np.ndarray  # (refs, papers) tf-idf cosine: the feedback models' kernel
    # What reference papers count by: to_candidates, or it mixed with dense similarity.
    anchor: np.ndarray | None = None

    @property
    def anchor_table(self) -> np.ndarray:
        return self.to_candidates if self.anchor is None else self.anchor


@dataclass
class _Texts:
    """Readers' keywords and descriptions with a vector: scaled dense rows, once a call."""

    position: dict[str, int]
    scaled: np.ndarray  # (texts, papers) in [0, 1]


def _mix_dense_refs(model: EditionModel, refs: _Refs, dense: DenseVectors, share: float) -> None:
    """Blend each reference paper's dense similarity into what it counts by.

    The dense part is put on the scale of the paper's own tf-idf row (its best cosine),
    so max-over-seeds and the other weights mean what they meant without vectors; a
    paper whose words no candidate shares gets the typical scale of the others. A
    reference paper without a vector keeps its tf-idf row, and so does every candidate
    without one.
    """
    assert model.dense is not None and model.dense_mean is not None
    assert model.dense_known is not None
    ids = list(refs.position)
    if not ids:
        return
    vectors = stack(ids, dense.papers, model.dense.shape[1])
    for row, arxiv_id in enumerate(ids):
        col = model.index.get(arxiv_id)
        if col is not None and model.dense[col].any():
            vectors[row] = model.dense[col]
    scaled = scaled_similarity(vectors, model.dense, model.dense_mean)
    top = refs.to_candidates.max(axis=1, keepdims=True)
    typical = float(np.median(top[top > 0])) if (top > 0).any() else 1.0
    share_of = np.where(top > 0, share, 1.0)
    mixed = (1 - share_of) * refs.to_candidates + share_of * scaled * np.where(
        top > 0, top, typical
    )
    missing = np.isnan(scaled[:, 0])
    mixed[missing] = refs.to_candidates[missing]
    unknown = ~model.dense_known
    mixed[:, unknown] = refs.to_candidates[:, unknown]
    refs.anchor = mixed.astype(np.float32)


def _text_table(model: EditionModel, profiles: Sequence[Profile], dense: DenseVectors) -> _Texts:
    assert model.dense is not None and model.dense_mean is not None
    wanted: dict[str, None] = {}
    for profile in profiles:
        for text in profile.texts:
            if text in dense.texts:
                wanted[text] = None
    keys = list(wanted)
    vectors = stack(keys, dense.texts, model.dense.shape[1])
    keep = ~np.isnan(vectors[:, 0]) if len(keys) else np.zeros(0, dtype=bool)
    keys = [key for key, ok in zip(keys, keep.tolist(), strict=True) if ok]
    scaled = scaled_similarity(vectors[keep], model.dense, model.dense_mean)
    return _Texts({key: i for i, key in enumerate(keys)}, scaled.astype(np.float32))


def _refs(model: EditionModel, profiles: Sequence[Profile], library: Mapping[str, str]) -> _Refs:
    inside: dict[str, None] = {}
    outside: dict[str, None] = {}
    for profile in profiles:
        for arxiv_id in chain(
            profile.seed_papers,
            profile.liked,
            profile.clicked,
            profile.hidden,
            # Sent papers only serve as "ignored" examples for readers who click.
            profile.already_sent[-MAX_NEGATIVES:] if profile.clicked else (),
        ):
            (inside if arxiv_id in model.index else outside)[arxiv_id] = None
    inside_rows = np.array([model.index[a] for a in inside], dtype=np.int64)
    # Unknown ids (no text anywhere) embed as empty rows and so contribute nothing.
    outside_vectors = model.query_vectors([[(library.get(a, ""), 1.0)] for a in outside])
    vectors = sparse.csr_matrix(
        sparse.vstack([model.matrix[inside_rows], outside_vectors]), dtype=np.float32
    )
    to_candidates = np.empty((len(inside) + len(outside), len(model)), dtype=np.float32)
    if len(inside):
        to_candidates[: len(inside)] = model.similarity_rows(inside_rows)
    if len(outside):
        to_candidates[len(inside) :] = (outside_vectors @ model.matrix_t).toarray()
    position = {a: i for i, a in enumerate(chain(inside, outside))}
    return _Refs(position, vectors, to_candidates)


def _group_max(
    table: np.ndarray,
    rows_of: Mapping[str, int],
    groups: list[list[tuple[str, float]]],
    *,
    centroid: _Refs | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return, for readers with any row in `table`, the max over their weighted rows.

    `rows_of` maps each key in the groups (an arXiv id, a text) to its row. With
    `centroid` (the reference papers), the similarity to the group's centroid counts too.
    Returns (row of each reader in the values or -1, values (readers with rows x papers)).
    """
    rows: list[int] = []
    weights: list[float] = []
    starts: list[int] = []
    slot = np.full(len(groups), -1, dtype=np.int64)
    for reader, group in enumerate(groups):
        if group:
            slot[reader] = len(starts)
            starts.append(len(rows))
            for arxiv_id, weight in group:
                rows.append(rows_of[arxiv_id])
                weights.append(weight)
    if not rows:
        return slot, np.zeros((0, table.shape[1]), dtype=np.float32)
    # Gather by position within the groups (first papers of all readers, then second
    # papers, ...): each step is one contiguous row gather, far cheaper than a reduceat
    # along the rows, and the total work is still one row per reference paper.
    starts_a = np.asarray(starts, dtype=np.int64)
    sizes = np.diff(np.append(starts_a, len(rows)))
    rows_a = np.asarray(rows, dtype=np.int64)
    factor = np.asarray(weights, dtype=np.float32)
    weighted = bool((factor != 1.0).any())

    def at(position: int, groups_at: np.ndarray) -> np.ndarray:
        picked = starts_a[groups_at] + position
        values = table[rows_a[picked]]
        if weighted:
            values *= factor[picked][:, None]
        return values

    everyone = np.arange(len(starts_a))
    best = at(0, everyone)
    total = best.copy() if centroid is not None else None
    for position in range(1, int(sizes.max())):
        groups_at = everyone[sizes > position]
        values = at(position, groups_at)
        best[groups_at] = np.maximum(best[groups_at], values)
        if total is not None:
            total[groups_at] += values
    if total is None or centroid is None:
        return slot, best
    # Also compare with the (weighted) centroid of each reader's papers: for papers on
    # one theme it picks up their shared vocabulary; for papers on different themes it
    # is a blur that rarely beats the best single paper, so taking the max keeps both.
    several = sizes > 1
    if several.any():
        owner = np.repeat(np.arange(len(starts_a)), sizes)
        combine = sparse.csr_matrix(
            (factor, (owner, rows_a)), shape=(len(starts_a), len(centroid.position))
        )
        norms = np.sqrt(np.asarray((combine @ centroid.vectors).power(2).sum(axis=1)).ravel())
        mean = total[several] / np.where(norms > 0, norms, 1.0)[several][:, None]
        best[several] = np.maximum(best[several], mean)
    return slot, best


def _mix_dense_text(
    text: np.ndarray,
    profiles: Sequence[Profile],
    texts: _Texts,
    share: float,
    known: np.ndarray,
) -> np.ndarray:
    """Blend in, per reader, the best dense match of any one of their texts (in place).

    The best single keyword or description, as with seeds: one reader's several
    keywords are often several interests. On the reader's tf-idf scale; a reader whose
    words tf-idf does not know at all gets the dense match alone. Candidates without a
    vector (`known` False) keep their tf-idf value. Returns which readers had one.
    """
    groups = [[(t, 1.0) for t in p.texts if t in texts.position] for p in profiles]
    slot, best = _group_max(texts.scaled, texts.position, groups)
    has = slot >= 0
    if not has.any():
        return has
    rows = np.flatnonzero(has)
    top = text[rows].max(axis=1, keepdims=True)
    scale = np.where(top > 0, top, 1.0)
    share_of = np.where(top > 0, share, 1.0)
    mixed = (1 - share_of) * text[rows] + share_of * best[slot[rows]] * scale
    text[rows] = np.where(known[None, :], mixed, text[rows])
    return has


def _expand(
    model: EditionModel, text: np.ndarray, readers: np.ndarray, depth: int, share: float
) -> None:
    """Pseudo-relevance feedback, in place: mix in similarity to each reader's top papers.

    The `depth` papers the reader's words match best stand in for more of their words:
    papers close to them score too, though they share none of the reader's terms
    ("epidemic forecasting" finds the dengue and influenza papers). The similarities
    come from the edition's paper-by-paper table, so this is a row gather, not a query.
    The mix is on the reader's own tf-idf scale, like the dense signal.
    """
    best = text.max(axis=1)
    rows = np.flatnonzero(readers & (best > 0))
    if not len(rows) or text.shape[1] <= depth:
        return
    top = np.argpartition(-text[rows], depth, axis=1)[:, :depth]
    near = model.similarity_rows(top[:, 0])
    for j in range(1, depth):
        near += model.similarity_rows(top[:, j])
    top_near = near.max(axis=1, keepdims=True)
    near *= (best[rows][:, None] / np.where(top_near > 0, top_near, 1.0)).astype(np.float32)
    text[rows] = (1 - share) * text[rows] + share * near


def _incidence(cells: tuple[list[int], list[int]], n_rows: int, n_cols: int) -> sparse.csr_matrix:
    rows, cols = cells
    return sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols)
    )


def _rank_chunk(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    w: RankWeights,
    refs: _Refs,
    static: np.ndarray,
    texts: _Texts | None = None,
) -> list[list[Pick]]:
    n_readers = len(profiles)
    readers = np.arange(n_readers)

    # --- what each reader cannot get: sent, hidden, liked, clicked, own seeds ----------
    ex_rows: list[int] = []
    ex_cols: list[int] = []
    index = model.index
    for reader, profile in enumerate(profiles):
        for arxiv_id in chain(
            profile.already_sent, profile.hidden, profile.seed_papers, profile.liked,
            profile.clicked,
        ):  # fmt: skip
            col = index.get(arxiv_id)
            if col is not None:
                ex_rows.append(reader)
                ex_cols.append(col)

    # --- text relevance: keywords (twice) + description, one tf-idf query each -------
    query = model.query_vectors(
        [
            [(kw, 2.0) for kw in p.keywords] + ([(p.description, 1.0)] if p.description else [])
            for p in profiles
        ]
    )
    text = (query @ model.matrix_t).toarray()
    dense_text = np.zeros(n_readers, dtype=bool)
    if texts is not None and len(texts.position):
        assert model.dense_known is not None
        dense_text = _mix_dense_text(text, profiles, texts, w.dense_text, model.dense_known)
    if w.expansion > 0:
        # Readers' words miss papers that say the same in other words; without a dense
        # match to find those, borrow the vocabulary of their best matches.
        _expand(model, text, ~dense_text, w.expansion_depth, w.expansion)
    text[ex_rows, ex_cols] = 0.0

    # --- reference papers: max over seeds, over liked/clicked; hidden apart ------------
    # Seeds are the reader's declared interests, often several distinct ones: best single
    # seed only. Likes pile up around a theme: their centroid may count too.
    table = refs.anchor_table
    seed_slot, seed_sim = _group_max(
        table, refs.position, [[(a, 1.0) for a in p.seed_papers] for p in profiles]
    )
    liked_slot, liked_sim = _group_max(
        table,
        refs.position,
        [
            [(a, 1.0) for a in p.liked] + [(a, w.clicked_anchor) for a in p.clicked]
            for p in profiles
        ],
        centroid=refs,
    )
    hidden_slot, hidden_sim = _group_max(
        table, refs.position, [[(a, 1.0) for a in p.hidden] for p in profiles]
    )
    for slot, values in ((seed_slot, seed_sim), (liked_slot, liked_sim)):
        keep = slot[ex_rows] >= 0
        values[slot[ex_rows][keep], np.asarray(ex_cols, dtype=np.int64)[keep]] = 0.0
    anchor = np.zeros_like(text)
    has_seed, has_liked = seed_slot >= 0, liked_slot >= 0
    anchor[has_seed] = seed_sim[seed_slot[has_seed]]
    anchor[has_liked] = np.maximum(anchor[has_liked], liked_sim[liked_slot[has_liked]])

    # Each active signal is scaled so the reader's best candidate scores 1, then averaged.
    text_top = text.max(axis=1)
    anchor_top = anchor.max(axis=1)
    active = (text_top > 0).astype(np.float32) + (anchor_top > 0)
    text_scale = np.where(text_top > 0, 1.0 / np.maximum(text_top * active, 1e-12), 0.0)
    anchor_scale = np.where(anchor_top > 0, 1.0 / np.maximum(anchor_top * active, 1e-12), 0.0)
    score = text * text_scale.astype(np.float32)[:, None]
    anchor *= anchor_scale.astype(np.float32)[:, None]
    score += anchor
    del anchor

    model_rows, model_scores = _feedback_scores(model, profiles, refs, w)
    has_model = np.zeros(n_readers, dtype=bool)
    has_model[model_rows] = True
    if len(model_rows):
        score[model_rows] = (1 - w.feedback) * score[model_rows] + w.feedback * model_scores
    score *= w.relevance
    if w.trending_floor > 0:
        # Popularity and age only order papers that are already relevant enough: the
        # labels (and readers) want the relevant papers first, and a trending paper on
        # another topic must not push a relevant one out. Readers with no relevance
        # signal at all (categories only) still get the trending order.
        gated = (score >= w.trending_floor * w.relevance) | ((active == 0) & ~has_model)[:, None]
        score += np.where(gated, static[None, :], np.float32(0))
    else:
        score += static[None, :]

    # --- keyword phrases, negative keywords, categories (sparse) ----------------------
    phrase_ids: dict[str, int] = {}
    kw_cells: tuple[list[int], list[int]] = ([], [])
    neg_cells: tuple[list[int], list[int]] = ([], [])
    slots: list[list[tuple[str, int]]] = []
    cat_cells: tuple[list[int], list[int]] = ([], [])
    categories = model.category_index
    for reader, profile in enumerate(profiles):
        own = []
        for keyword in profile.keywords:
            pid = phrase_ids.setdefault(model.phrase_key(keyword), len(phrase_ids))
            kw_cells[0].append(reader)
            kw_cells[1].append(pid)
            own.append((keyword, pid))
        slots.append(own)
        for keyword in profile.negative_keywords:
            neg_cells[0].append(reader)
            neg_cells[1].append(phrase_ids.setdefault(model.phrase_key(keyword), len(phrase_ids)))
        for name in profile.categories:
            col = categories.get(name)
            if col is not None:
                cat_cells[0].append(reader)
                cat_cells[1].append(col)
    phrases = list(phrase_ids)
    found = model.phrases.matrix(phrases)
    in_title = model.title_phrases.matrix(phrases)
    keywords = _incidence(kw_cells, n_readers, len(phrases))
    # A phrase in the title says what the paper is about; one in the abstract may be a
    # passing mention ("unlike diffusion models, ..."). Title hits count twice.
    title_hits = (keywords @ in_title).tocsr()
    hits = (keywords @ found + title_hits).tocoo()
    bonus = w.keyword * (1.0 - np.power(0.5, hits.data))
    if w.mention_scaled:
        # A phrase only in the abstract earns its bonus in proportion to how close the
        # paper's text is to the reader's query: "unlike diffusion models, ..." in a
        # paper on carbon footprints is a mention, not the topic.
        n_cols = np.int64(score.shape[1])
        in_title_cells = title_hits.tocoo()
        titled = np.isin(
            hits.row * n_cols + hits.col, in_title_cells.row * n_cols + in_title_cells.col
        )
        closeness = text[hits.row, hits.col] / np.where(text_top > 0, text_top, 1.0)[hits.row]
        bonus = np.where(titled, bonus, bonus * np.minimum(closeness, 1.0))
    score[hits.row, hits.col] += bonus
    if cat_cells[0] and w.category:
        # Categories are broad (thousands of papers each): a dense product is cheaper.
        wanted = _incidence(cat_cells, n_readers, model.category_matrix.shape[1])
        score += np.float32(w.category) * (np.asarray(wanted @ model.category_dense) > 0)
    if len(hidden_sim):
        has_hidden = hidden_slot >= 0
        score[has_hidden] -= w.hidden_penalty * hidden_sim[hidden_slot[has_hidden]]

    score[ex_rows, ex_cols] = -np.inf
    negatives = _incidence(neg_cells, n_readers, len(phrases))
    # A negative keyword in the title: never show the paper. Only in the abstract: demote.
    negative_abstract = (negatives @ found).tocoo()
    score[negative_abstract.row, negative_abstract.col] -= w.negative_penalty
    negative_title = (negatives @ in_title).tocoo()
    score[negative_title.row, negative_title.col] = -np.inf

    chosen = _diversify(model, score, k, w)

    # --- reasons: the signals at each pick, gathered in one go -----------------------
    cols = np.where(chosen >= 0, chosen, 0)
    rows = readers[:, None]
    model_pick = np.zeros(cols.shape, dtype=np.float32)
    if len(model_rows):
        model_pick[model_rows] = np.take_along_axis(model_scores, cols[model_rows], axis=1)
    signals = PickSignals(
        cols=chosen,
        score=score[rows, cols],
        keyword_slots=slots,
        category_cells=cat_cells,
        found=found,
        text=text[rows, cols] / np.where(text_top > 0, text_top, 1.0)[:, None],
        has_text=text_top > 0,
        seed=_gather(seed_sim, seed_slot, cols) / np.where(anchor_top > 0, anchor_top, 1)[:, None],
        liked=_gather(liked_sim, liked_slot, cols)
        / np.where(anchor_top > 0, anchor_top, 1)[:, None],
        model=model_pick,
        has_model=has_model,
    )
    return explain_chunk(model, profiles, signals)


def _gather(values: np.ndarray, slot: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return values[slot[reader], cols[reader, j]], 0 for readers without a slot."""
    out = np.zeros(cols.shape, dtype=np.float32)
    present = slot >= 0
    if present.any():
        out[present] = values[slot[present][:, None], cols[present]]
    return out


def _diversify(model: EditionModel, score: np.ndarray, k: int, w: RankWeights) -> np.ndarray:
    """Choose up to k columns per row by maximal marginal relevance; -1 pads short rows."""
    n_readers, n_papers = score.shape
    pool_size = min(n_papers, max(3 * k, k + 10))
    if pool_size < n_papers:
        pool = np.argpartition(score, n_papers - pool_size, axis=1)[:, n_papers - pool_size :]
    else:
        pool = np.broadcast_to(np.arange(n_papers), (n_readers, n_papers)).copy()
    pool_score = np.take_along_axis(score, pool, axis=1)
    valid = np.isfinite(pool_score)
    # Put every row's scores on [0, 1] so the trade-off with similarity means the same
    # for a reader with sharp interests as for one with none.
    low = np.where(valid, pool_score, np.inf).min(axis=1, keepdims=True)
    high = np.where(valid, pool_score, -np.inf).max(axis=1, keepdims=True)
    span = np.where(np.isfinite(high - low) & (high > low), high - low, 1.0)
    relevance = np.where(valid, (pool_score - np.where(np.isfinite(low), low, 0)) / span, 0.0)
    rows = np.arange(n_readers)
    taken = ~valid
    closest = np.zeros(pool.shape, dtype=np.float32)
    chosen = np.full((n_readers, k), -1, dtype=np.int64)
    for step in range(min(k, pool_size)):
        value = w.mmr_lambda * relevance - (1 - w.mmr_lambda) * closest
        value[taken | (closest >= w.duplicate_similarity)] = -np.inf
        best = value.argmax(axis=1)
        ok = np.isfinite(value[rows, best])
        if not ok.any():
            break
        r, b = rows[ok], best[ok]
        chosen[r, step] = pool[r, b]
        taken[r, b] = True
        # Similarity of the new pick to the rest of its reader's pool, and only that.
        closest[r] = np.maximum(closest[r], model.similarity_to(pool[r, b], pool[r]))
    # Rows that ran out early keep -1 in later slots; compact so picks stay contiguous.
    order = np.argsort(chosen < 0, axis=1, kind="stable")
    return np.take_along_axis(chosen, order, axis=1)


def _feedback_scores(
    model: EditionModel, profiles: Sequence[Profile], refs: _Refs, w: RankWeights
) -> tuple[np.ndarray, np.ndarray]:
    """Train per-reader models for readers with enough feedback.

    Returns (reader rows, their scores over the candidates scaled to [0, 1]).
    """
    examples: list[tuple[int, list[tuple[str, int, float]]]] = []
    for reader, profile in enumerate(profiles):
        if len(profile.liked) + len(profile.clicked) < 2:
            continue  # the common case, decided before building any lists
        positives = [(a, 1, 1.0) for a in profile.liked] + [
            (a, 1, CLICK_STRENGTH) for a in profile.clicked if a not in profile.liked
        ]
        positive_ids = {a for a, _, _ in positives}
        explicit = [(a, 0, 1.0) for a in profile.hidden if a not in positive_ids]
        # Sent but never clicked: a weak "not for me", only from readers who do click.
        implicit = []
        if profile.clicked:
            skip = positive_ids | set(profile.hidden)
            implicit = [
                (a, 0, IMPLICIT_NEGATIVE_STRENGTH)
                for a in profile.already_sent[-MAX_NEGATIVES:]
                if a not in skip
            ]
        negatives = (explicit[-MAX_NEGATIVES:] + implicit)[:MAX_NEGATIVES]
        positives = positives[-MAX_POSITIVES:]
        enough = len(positives) + len(negatives) >= w.min_feedback
        if len(positives) >= 2 and len(negatives) >= 2 and enough:
            examples.append((reader, positives + negatives))
    out_rows: list[np.ndarray] = []
    out_scores: list[np.ndarray] = []
    for start in range(0, len(examples), FEEDBACK_BATCH):
        batch = examples[start : start + FEEDBACK_BATCH]
        width = max(len(items) for _, items in batch)
        index = np.zeros((len(batch), width), dtype=np.int64)
        labels = np.zeros((len(batch), width), dtype=np.float64)
        strength = np.zeros((len(batch), width), dtype=np.float64)
        for b, (_, items) in enumerate(batch):
            for i, (arxiv_id, label, weight) in enumerate(items):
                index[b, i] = refs.position[arxiv_id]
                labels[b, i] = label
                strength[b, i] = weight
        # Only each reader's own block of similarities is needed: one small product per
        # reader is much cheaper than the Gram matrix of the whole batch's papers.
        # Each block is a dense product over just the terms its papers use: a sparse
        # product would first transpose over the whole (bigram) vocabulary.
        gram = np.zeros((len(batch), width, width), dtype=np.float32)
        for b, (_, items) in enumerate(batch):
            own = refs.vectors[index[b, : len(items)]]
            terms, column = np.unique(own.indices, return_inverse=True)
            dense = np.zeros((len(items), len(terms)), dtype=np.float32)
            dense[np.repeat(np.arange(len(items)), np.diff(own.indptr)), column] = own.data
            gram[b, : len(items), : len(items)] = dense @ dense.T
        gram *= (strength > 0)[:, :, None]
        alpha, bias = fit_dual(gram, labels, balanced_weights(labels, strength))
        values = decision(alpha, bias, refs.to_candidates[index])
        low = values.min(axis=1, keepdims=True)
        high = values.max(axis=1, keepdims=True)
        out_rows.append(np.array([reader for reader, _ in batch], dtype=np.int64))
        out_scores.append((values - low) / np.where(high > low, high - low, 1.0))
    if not out_rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(model)), dtype=np.float32)
    return np.concatenate(out_rows), np.concatenate(out_scores).astype(np.float32)
