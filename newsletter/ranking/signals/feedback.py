"""Feedback: a per-reader logistic regression over tf-idf, once a reader has taught one.

Liked and clicked papers are the positives; hidden papers, and papers sent to a reader
who clicks but never clicked, the negatives (the latter weakly). As in arxiv-sanity,
where every paper the reader did not tag is a negative, the rest of the edition counts
against the liked theme too: through one pseudo-example, the edition's mean tf-idf
vector, with `RankWeights.feedback_background` of the negatives' weight. That is what
keeps a model fitted on two likes and two hides from rewarding whatever merely differs
from the hides. The models are fitted for many readers at once by
newsletter.ranking.feedback.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from newsletter.ranking.feedback import balanced_weights, decision, fit_dual
from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Profile
from newsletter.ranking.signals.references import MAX_NEGATIVES, Refs
from newsletter.ranking.weights import RankWeights

# Feedback models are trained in sub-batches to bound the (batch, n, papers) kernel.
FEEDBACK_BATCH = 128
MAX_POSITIVES = 32
IMPLICIT_NEGATIVE_STRENGTH = 0.3
CLICK_STRENGTH = 0.5


def learned(
    model: EditionModel, profiles: Sequence[Profile], refs: Refs, w: RankWeights
) -> tuple[np.ndarray, np.ndarray]:
    """Return each reader's model's scores (readers x papers, on [0, 1]) and who has one.

    Only readers with at least `w.min_feedback` labelled papers, two on each side, get a
    model; the others' rows are 0.
    """
    scores = np.zeros((len(profiles), len(model)), dtype=np.float32)
    has_model = np.zeros(len(profiles), dtype=bool)
    examples = _examples(profiles, w)
    background = _background(model) if examples and w.feedback_background > 0 else None
    for start in range(0, len(examples), FEEDBACK_BATCH):
        batch = examples[start : start + FEEDBACK_BATCH]
        rows = np.array([reader for reader, _ in batch], dtype=np.int64)
        scores[rows] = _fit_batch(
            refs, [items for _, items in batch], background, w.feedback_background
        )
        has_model[rows] = True
    return scores, has_model


def mix(profiles: Sequence[Profile], w: RankWeights) -> np.ndarray:
    """Return each reader's share of the feedback model (float32, one per reader).

    The shipped feedback_weight was chosen by cross-validation on readers who gave
    only likes and hides; for readers who also wrote keywords or a description (no
    judged profile covers them yet) their own words keep the share that was measured
    with them before: text_feedback_weight.
    """
    return np.array(
        [w.text_feedback_weight if p.texts else w.feedback_weight for p in profiles],
        dtype=np.float32,
    )


def _examples(
    profiles: Sequence[Profile], w: RankWeights
) -> list[tuple[int, list[tuple[str, int, float]]]]:
    """Return (reader, [(arXiv id, label, strength)]) for readers with enough feedback."""
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
        needed = w.text_min_feedback if profile.texts else w.min_feedback
        enough = len(positives) + len(negatives) >= needed
        if len(positives) >= 2 and len(negatives) >= 2 and enough:
            examples.append((reader, positives + negatives))
    return examples


def _background(model: EditionModel) -> tuple[np.ndarray, np.ndarray, float]:
    """Return the edition's mean tf-idf row (dense), its cosines to the candidates, |mean|^2."""
    mean = np.asarray(model.matrix.mean(axis=0), dtype=np.float32).ravel()
    to_candidates = np.asarray(model.matrix @ mean, dtype=np.float32).ravel()
    return mean, to_candidates, float(mean @ mean)


def _fit_batch(
    refs: Refs,
    batch: list[list[tuple[str, int, float]]],
    background: tuple[np.ndarray, np.ndarray, float] | None = None,
    background_share: float = 0.0,
) -> np.ndarray:
    """Fit one model per reader of the batch; return their scores scaled to [0, 1].

    With `background`, each reader gets one more negative example, the edition's mean
    paper, whose strength is `background_share` of the reader's other negatives'.
    """
    extra = 1 if background is not None else 0
    width = max(len(items) for items in batch) + extra
    index = np.zeros((len(batch), width), dtype=np.int64)
    labels = np.zeros((len(batch), width), dtype=np.float64)
    strength = np.zeros((len(batch), width), dtype=np.float64)
    for b, items in enumerate(batch):
        for i, (arxiv_id, label, weight) in enumerate(items):
            index[b, i] = refs.position[arxiv_id]
            labels[b, i] = label
            strength[b, i] = weight
    # Only each reader's own block of similarities is needed: one small product per
    # reader is much cheaper than the Gram matrix of the whole batch's papers.
    # Each block is a dense product over just the terms its papers use: a sparse
    # product would first transpose over the whole (bigram) vocabulary.
    gram = np.zeros((len(batch), width, width), dtype=np.float32)
    for b, items in enumerate(batch):
        own = refs.vectors[index[b, : len(items)]]
        terms, column = np.unique(own.indices, return_inverse=True)
        dense = np.zeros((len(items), len(terms)), dtype=np.float32)
        dense[np.repeat(np.arange(len(items)), np.diff(own.indptr)), column] = own.data
        gram[b, : len(items), : len(items)] = dense @ dense.T
        if background is not None:
            n = len(items)
            cross = dense @ background[0][terms]
            gram[b, :n, width - 1] = cross
            gram[b, width - 1, :n] = cross
            gram[b, width - 1, width - 1] = background[2]
            negatives = strength[b, :n][labels[b, :n] == 0].sum()
            strength[b, width - 1] = background_share * max(negatives, 1.0)
    gram *= (strength > 0)[:, :, None]
    alpha, bias = fit_dual(gram, labels, balanced_weights(labels, strength))
    kernel = refs.anchor_table[index]
    if background is not None:
        kernel[:, width - 1, :] = background[1]
    values = decision(alpha, bias, kernel)
    low = values.min(axis=1, keepdims=True)
    high = values.max(axis=1, keepdims=True)
    return (values - low) / np.where(high > low, high - low, 1.0)
