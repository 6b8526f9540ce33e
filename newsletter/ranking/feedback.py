"""Fit one logistic-regression model per reader from their feedback, many readers at once.

arxiv-sanity trains a linear SVM per tag over tf-idf. We train an L2-regularised
logistic regression per reader over the same tf-idf features, but for a whole batch of
readers in one set of array operations: by the representer theorem the weights are a
combination of the reader's own labelled papers (w = sum_i alpha_i x_i), so training
needs only the small Gram matrix of those papers and scoring only their similarities to
the candidates (the latter the ranker already has). Plain gradient descent on this
smooth objective, strongly convex in w through the L2 term, converges geometrically:
sixty cheap steps; tests/ranking/test_feedback.py checks the decision values against
scikit-learn's LogisticRegression on the same data.

Objective per reader (sample weights s sum to 1 over each class, half each):
    sum_i s_i * logloss(y_i, w.x_i + b) + (l2 / 2) * |w|^2
"""

from __future__ import annotations

import numpy as np

L2 = 0.1  # equals scikit-learn's C = 1 / L2 = 10 with these normalised sample weights
STEPS = 60
STEP_SIZE = 2.5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=x.dtype)


def fit_dual(
    gram: np.ndarray, labels: np.ndarray, weights: np.ndarray, l2: float = L2
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a batch of readers' models; return (alpha (B, n), intercept (B,)).

    gram: (B, n, n) similarities among each reader's labelled papers (padding rows 0),
    labels: (B, n) 1 for liked/clicked, 0 for hidden/ignored, weights: (B, n) sample
    weights (0 on padding).
    """
    batch, n = labels.shape
    alpha = np.zeros((batch, n), dtype=np.float64)
    bias = np.zeros(batch, dtype=np.float64)
    gram = gram.astype(np.float64)
    y = labels.astype(np.float64)
    s = weights.astype(np.float64)
    for _ in range(STEPS):
        f = np.matmul(gram, alpha[:, :, None])[:, :, 0] + bias[:, None]
        residual = s * (_sigmoid(f) - y)
        # Gradient in weight space is sum_i (residual_i + l2 * alpha_i) x_i.
        alpha -= STEP_SIZE * (residual + l2 * alpha)
        bias -= STEP_SIZE * residual.sum(axis=1)
    return alpha, bias


def decision(alpha: np.ndarray, bias: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Return w.x + b for every candidate: kernel is (B, n, papers)."""
    values = np.matmul(alpha[:, None, :].astype(np.float32), kernel)[:, 0, :]
    return np.asarray(values + bias[:, None], dtype=np.float32)


def balanced_weights(labels: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Scale per-sample strengths so each class sums to 1/2 (class balance, as 'balanced')."""
    out = np.zeros_like(strength, dtype=np.float64)
    for value in (0, 1):
        mask = (labels == value) & (strength > 0)
        total = np.where(mask, strength, 0).sum(axis=1, keepdims=True)
        out = np.where(mask, 0.5 * strength / np.maximum(total, 1e-12), out)
    return out
