"""A tiny deterministic stand-in for a sentence model: synonyms share a direction.

Tests load it through NEWSLETTER_EMBEDDINGS=tests.ranking.fake_embedder:make, the same
hook a deployment uses for another model. Each concept below is one dimension, so
"novelty detection" and "out-of-distribution" land close together although they
share no word, which tf-idf alone cannot see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

CONCEPTS = {
    "ood": ("out-of-distribution", "ood", "novelty", "open-set", "anomaly", "anomalous"),
    "merging": ("merging", "merge", "merged", "souping", "soup", "averaging"),
    "audio": ("audio", "speech", "sound", "acoustic"),
    "proteins": ("protein", "proteins", "folding", "enzyme"),
}
DIMS = 16
calls: list[int] = []  # texts per encode() call, for tests that count the model's work


class FakeEmbedder:
    name = "fake-concepts-v1"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"[a-z][a-z-]+", text.lower())
            for dim, synonyms in enumerate(CONCEPTS.values()):
                out[row, dim] = sum(any(w.startswith(s) for s in synonyms) for w in words)
            out[row, len(CONCEPTS) + len(words) % (DIMS - len(CONCEPTS))] += 0.3  # a floor
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def make() -> FakeEmbedder:
    return FakeEmbedder()


class RenamedEmbedder(FakeEmbedder):
    name = "fake-concepts-v2"


def make_v2() -> RenamedEmbedder:
    return RenamedEmbedder()


class SlowEmbedder(FakeEmbedder):
    """Takes a while per batch, so two embed tasks overlap."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import time

        time.sleep(0.2)
        return super().encode(texts)


def make_slow() -> SlowEmbedder:
    return SlowEmbedder()


class BrokenEmbedder(FakeEmbedder):
    """Returns NaN for texts that mention "glitch", as a faulty model might."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = super().encode(texts)
        out[["glitch" in t.lower() for t in texts]] = np.nan
        return out


def make_broken() -> BrokenEmbedder:
    return BrokenEmbedder()
