"""Rank an edition's candidates for many readers at once, with a reason for every pick.

The text model is fitted once per edition (`fit_edition`); each chunk of readers is then
scored with sparse/dense matrix products, never a Python loop over papers per reader.
`rank_chunk` adds up the signals (newsletter.ranking.signals, one module each) and its
docstring gives the whole formula with every weight; `diversity` picks the digest and
`explain` words the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from newsletter.ranking.dense import DenseVectors
from newsletter.ranking.diversity import diversify
from newsletter.ranking.explain import explain_chunk, pick_signals
from newsletter.ranking.model import EditionModel, fit_edition
from newsletter.ranking.profile import Pick, Profile
from newsletter.ranking.signals import boosts, feedback, penalties, relevance
from newsletter.ranking.signals.references import Refs, mix_dense_refs, reference_papers
from newsletter.ranking.signals.relevance import Texts, dense_ready, text_table
from newsletter.ranking.weights import RankWeights

__all__ = [
    "CHUNK_SIZE",
    "DenseVectors",
    "EditionModel",
    "RankWeights",
    "dense_ready",
    "fit_edition",
    "rank",
    "rank_chunk",
]

# Readers per vectorised pass: a few (chunk x papers) float32 matrices at a time.
CHUNK_SIZE = 250


def rank(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    *,
    weights: RankWeights | None = None,
    library: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    dense: DenseVectors | None = None,
    titles: Mapping[str, str] | None = None,
) -> list[list[Pick]]:
    """Return the top `k` picks for each profile, best first, each with a reason.

    `library` maps arXiv ids of papers outside the candidates (older seeds, liked,
    hidden or sent papers) to their text, so they can still steer the ranking.
    `dense` holds stored sentence embeddings of such papers and of the readers'
    keywords and descriptions; they count only if the model has candidate vectors too.
    `titles` (arXiv id -> title) lets a reason name a library paper by its title.
    """
    weights = weights or RankWeights()
    if not len(model) or not profiles or k <= 0:
        return [[] for _ in profiles]
    # One BLAS thread: the products here are many and small, where OpenBLAS's threads
    # spin-wait for work and burn a second core for nothing (measured: twice the CPU
    # time), and parallelism comes from worker processes, one chunk each.
    with threadpool_limits(limits=1, user_api="blas"):
        # Every paper the readers point at is embedded and compared with the candidates
        # once for the whole call, however many chunks follow.
        refs = reference_papers(model, profiles, library or {})
        texts = None
        if dense_ready(model):
            dense = dense or DenseVectors()
            if weights.dense_paper_weight > 0:
                mix_dense_refs(
                    model, refs, dense, weights.dense_paper_weight, weights.dense_agreement
                )
            if weights.dense_text_weight > 0:
                texts = text_table(model, profiles, dense)
        picks: list[list[Pick]] = []
        for start in range(0, len(profiles), chunk_size):
            chunk = profiles[start : start + chunk_size]
            picks.extend(rank_chunk(model, chunk, k, weights, refs, texts, titles))
        return picks


def rank_chunk(
    model: EditionModel,
    profiles: Sequence[Profile],
    k: int,
    w: RankWeights,
    refs: Refs,
    texts: Texts | None = None,
    titles: Mapping[str, str] | None = None,
) -> list[list[Pick]]:
    """Score every candidate for a chunk of readers, then pick and explain each digest.

    Score of paper p for reader u (every weight is a setting, default in brackets):

    relevance  = mean of the reader's active text signals, each scaled so the reader's
                 best candidate is 1 (signals/relevance.py):
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
                 NEWSLETTER_RANK_DENSE_PAPER_WEIGHT [0.1]. Both shares shrink as far as
                 the two rankings' top 10 differ (RankWeights.dense_agreement [1],
                 dense.agreed_share). Chosen by cross-validation in
                 bench/eval_ranking.py.
                 Without a dense match, the keyword/description signal is expanded
                 instead: mixed with similarity to the reader's best
                 NEWSLETTER_RANK_EXPANSION_DEPTH [2] matches, share
                 NEWSLETTER_RANK_EXPANSION_WEIGHT [0.7] (pseudo-relevance feedback).
                 Once a reader has NEWSLETTER_RANK_MIN_FEEDBACK [4] labelled papers (at
                 least 2 liked/clicked and 2 hidden/ignored), a per-reader logistic
                 regression over tf-idf (signals/feedback.py; the rest of the edition
                 counts as a negative too, RankWeights.feedback_background [10]) is
                 mixed in with weight NEWSLETTER_RANK_FEEDBACK_WEIGHT [0.85]. Readers who
                 also wrote keywords or a description need
                 NEWSLETTER_RANK_TEXT_MIN_FEEDBACK [6] labels and mix it in with
                 NEWSLETTER_RANK_TEXT_FEEDBACK_WEIGHT [0.35]: cross-validation chose 0.85
                 on readers with likes and hides only, and no judged reader yet has both.
    score      = NEWSLETTER_RANK_RELEVANCE_WEIGHT [1.0]  * relevance
               + NEWSLETTER_RANK_TRENDING_WEIGHT  [0.15] * log(1 + upvotes) / log(1 + max upvotes)
               + NEWSLETTER_RANK_RECENCY_WEIGHT   [0.05] * 0.5 ** (age / half-life)
                 (these two only where relevance >= NEWSLETTER_RANK_TRENDING_FLOOR [0.5],
                 or for readers with no relevance signal: popularity orders relevant
                 papers, it never pushes an off-topic paper above them)
               + NEWSLETTER_RANK_KEYWORD_WEIGHT   [0.3]  * (1 - 0.5 ** phrase hits, title twice)
                 (a phrase only in the abstract: times the paper's text relevance, so a
                 passing mention earns little)
               + NEWSLETTER_RANK_CATEGORY_WEIGHT  [0.1]  * (shares a category with the reader)
               - NEWSLETTER_RANK_HIDDEN_PENALTY   [0.3]  * best cosine to a hidden paper
               - NEWSLETTER_RANK_NEGATIVE_PENALTY [0.3]  * (a negative keyword in the paper)

    Age is measured from the edition's newest paper; the half-life is
    NEWSLETTER_RANK_HALF_LIFE_DAYS [7] (signals/boosts.py). Excluded outright
    (signals/penalties.py): papers the reader already received, hid, liked, clicked or
    gave as seeds, and papers with a negative keyword in the title. The digest is then
    chosen from the best 3k by maximal marginal relevance (diversity.py;
    NEWSLETTER_RANK_MMR_LAMBDA [0.75]: 1 = pure score, lower = more varied), and a paper
    whose cosine to an already chosen one reaches NEWSLETTER_RANK_DUPLICATE_SIMILARITY
    [0.8] is never added: no digest of five near-duplicates.

    The terms are added in the order written, and every array is float32, so the same
    inputs give the same scores to the last bit.
    """
    excluded = penalties.excluded(model, profiles)
    text = relevance.words(model, profiles, w, texts, excluded)
    seeds, liked = relevance.papers(refs, profiles, w, excluded)
    relevant = relevance.combine(text, seeds, liked)
    learned, has_model = feedback.learned(model, profiles, refs, w)
    asked = boosts.asked(model, profiles)

    score = relevant.score
    mix = feedback.mix(profiles, w)[has_model, None]
    score[has_model] = (1 - mix) * score[has_model] + mix * learned[has_model]
    score *= w.relevance_weight
    score += boosts.popularity(model, score, relevant.silent & ~has_model, w)
    score += boosts.phrases(asked, relevant.text, relevant.text_top, w)
    score += w.category_weight * boosts.categories(model, asked)
    score -= w.hidden_penalty * penalties.hidden(refs, profiles)
    in_paper, in_title = penalties.negative_keywords(asked)
    score -= w.negative_penalty * in_paper
    score[excluded.where] = -np.inf
    score[in_title.where] = -np.inf

    chosen = diversify(model, score, k, w)
    signals = pick_signals(chosen, score, relevant, learned, has_model, asked)
    return explain_chunk(model, profiles, signals, refs, titles)
