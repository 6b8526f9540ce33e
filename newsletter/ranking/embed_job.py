"""Embed what has no vector yet: the job behind `newsletter embed` and the embed task."""

from __future__ import annotations

import logging
import time
from typing import Any

from newsletter.db import session_scope
from newsletter.ranking.embedder import configured_embedder
from newsletter.ranking.vectors import BATCH, embed_papers_batch, embed_texts, reader_texts

log = logging.getLogger(__name__)


def embed_missing(limit: int | None = None) -> dict[str, Any]:
    """Embed papers and readers' texts that have no vector yet, if embeddings are on.

    Each batch of papers is its own transaction, so a crash or a redeploy keeps the
    work done. Returns counts (and the model's name), or {"enabled": False}.
    """
    embedder = configured_embedder()
    if embedder is None:
        return {"enabled": False, "papers": 0, "texts": 0}
    started = time.perf_counter()
    papers = 0
    while limit is None or papers < limit:
        size = BATCH if limit is None else min(BATCH, limit - papers)
        with session_scope() as session:
            done = embed_papers_batch(session, embedder, size)
        papers += done
        if done < size:
            break
    with session_scope() as session:
        texts = embed_texts(session, embedder, reader_texts(session))
    seconds = round(time.perf_counter() - started, 2)
    if papers or texts:
        log.info(
            "embedded %d papers and %d reader texts with %s in %.1fs",
            papers, texts, embedder.name, seconds,
        )  # fmt: skip
    return {
        "enabled": True,
        "model": embedder.name,
        "papers": papers,
        "texts": texts,
        "seconds": seconds,
    }
