"""Judge the ranking on hand-labelled reader profiles: nDCG@10 and precision@5.

Papers: the bundled sample (newsletter/data/sample_papers.json) plus
bench/data/extra_papers.json (papers written for this evaluation: more topics, near
misses, words used in another sense, and popular off-topic distractors). Profiles and
graded judgements (2 = certainly wanted, 1 = related): bench/data/eval_profiles.json.

Methods, side by side:
  (a) keyword match    count of the reader's phrases found in the paper (keywords, and
                       the content words of the description and of seed/liked titles),
                       ties broken by upvotes
  (b) tf-idf cosine    one query vector (keywords + description + seed/liked texts)
                       against the papers: the simple approach most tools use
  (c) final blend      newsletter.ranking.rank with the default weights, as installed
                       by default (no embeddings)
  (c) + MiniLM         the same with stored all-MiniLM-L6-v2 vectors
                       (NEWSLETTER_EMBEDDINGS=minilm; shares set by
                       NEWSLETTER_RANK_DENSE_TEXT_WEIGHT / _DENSE_PAPER_WEIGHT)
and the anchors the issue names, rebuilt here from what they publish:
  HF trending          upvotes only
  arxiv-sanity-lite    tf-idf (its settings) + a LinearSVC per reader, the reader's seed
                       and liked papers positive, all others negative (C=0.01, balanced);
                       readers with no papers get its tf-idf search instead
  zotero-arxiv-daily   MiniLM cosine to the reader's papers, weighted towards recent ones
                       (1 / (1 + log10(i + 1))); readers with no papers get the cosine to
                       their keywords + description
plus ablations of (c), to show what the pieces add.

MiniLM rows need bench/data/eval_vectors.npz, written by bench/embed_eval.py (with
the embeddings extra) and committed; if the papers or profiles changed since, they
are left out with a note.

Profiles at even positions are the tuning set (weights were chosen on them alone);
odd positions are held out.

Usage: .venv/bin/python bench/eval_ranking.py [--verbose]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsletter.ranking.dense import DenseVectors  # noqa: E402
from newsletter.ranking.files import load_papers  # noqa: E402
from newsletter.ranking.model import EditionModel, fit_edition  # noqa: E402
from newsletter.ranking.phrases import words  # noqa: E402
from newsletter.ranking.profile import Profile  # noqa: E402
from newsletter.ranking.score import RankWeights, rank  # noqa: E402
from newsletter.ranking.vectors import digest  # noqa: E402

DATA = ROOT / "bench" / "data"
VECTORS = DATA / "eval_vectors.npz"
K = 10

Ranker = Callable[[EditionModel, Profile], list[str]]


def load() -> tuple[EditionModel, list[dict]]:
    papers = load_papers(ROOT / "newsletter" / "data" / "sample_papers.json")
    papers += load_papers(DATA / "extra_papers.json")
    profiles = json.loads((DATA / "eval_profiles.json").read_text())["profiles"]
    return fit_edition(papers), profiles


def profile_texts(profiles: list[dict]) -> list[str]:
    """Every keyword and description in the profiles, as the service would embed them."""
    texts: dict[str, None] = {}
    for item in profiles:
        texts.update(dict.fromkeys(as_profile(item["profile"]).texts))
    return list(texts)


def load_vectors(model: EditionModel, profiles: list[dict]) -> tuple[DenseVectors, str] | str:
    """Return the stored MiniLM vectors and their model, or why they cannot be used."""
    if not VECTORS.exists():
        return f"{VECTORS.name} missing: run bench/embed_eval.py (needs the embeddings extra)"
    data = np.load(VECTORS)
    ids = [p.arxiv_id for p in model.papers]
    digests = [digest(p.text) for p in model.papers]
    if list(data["paper_ids"]) != ids or list(data["paper_digests"]) != digests:
        return f"{VECTORS.name} is stale (papers changed): run bench/embed_eval.py again"
    texts = list(data["texts"])
    if set(profile_texts(profiles)) - set(texts):
        return f"{VECTORS.name} is stale (profiles changed): run bench/embed_eval.py again"
    papers = dict(zip(ids, data["paper_vectors"], strict=True))
    return (
        DenseVectors(papers=papers, texts=dict(zip(texts, data["text_vectors"], strict=True))),
        str(data["model"]),
    )


def as_profile(raw: dict) -> Profile:
    return Profile(**{key: value for key, value in raw.items()})


def _own(profile: Profile) -> set[str]:
    return {*profile.seed_papers, *profile.liked, *profile.hidden}


def _top(model: EditionModel, scores: np.ndarray, profile: Profile) -> list[str]:
    own = _own(profile)
    order = np.argsort(-scores, kind="stable")
    return [model.papers[i].arxiv_id for i in order if model.papers[i].arxiv_id not in own][:K]


def _library(profile: Profile) -> list[str]:
    return [*profile.seed_papers, *profile.liked]


def trending(model: EditionModel, profile: Profile) -> list[str]:
    return _top(model, np.array([p.upvotes for p in model.papers], dtype=float), profile)


def keyword_match(model: EditionModel, profile: Profile) -> list[str]:
    phrases = list(profile.keywords)
    texts = [profile.description]
    texts += [model.papers[model.index[a]].title for a in _library(profile)]
    for text in texts:
        phrases += [w for w in words(text) if w not in ENGLISH_STOP_WORDS and len(w) > 2]
    found = model.phrases.matches(sorted(set(phrases))).sum(axis=0).astype(float)
    upvotes = np.array([p.upvotes for p in model.papers], dtype=float)
    return _top(model, found + upvotes / (upvotes.max() + 1), profile)


def tfidf_cosine(model: EditionModel, profile: Profile) -> list[str]:
    parts = [*profile.keywords, profile.description]
    parts += [model.papers[model.index[a]].text for a in _library(profile)]
    query = model.vectors_for([" ".join(parts)])
    return _top(model, (query @ model.matrix.T).toarray()[0], profile)


def arxiv_sanity(model: EditionModel, profile: Profile) -> list[str]:
    """arxiv-sanity-lite: its own tf-idf settings and a LinearSVC on the reader's papers."""
    texts = [p.text for p in model.papers]
    vectorizer = TfidfVectorizer(
        input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
        lowercase=True, analyzer="word", stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
        max_df=0.1, min_df=1,
    )  # fmt: skip
    x = vectorizer.fit_transform(texts)
    positives = [model.index[a] for a in _library(profile)]
    if positives:
        y = np.zeros(len(texts))
        y[positives] = 1
        svm = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
        scores = svm.fit(x, y).decision_function(x)
    else:  # its search box: the reader's words as a query
        query = vectorizer.transform([" ".join([*profile.keywords, profile.description])])
        scores = (x @ query.T).toarray()[:, 0]
    return _top(model, scores, profile)


def zotero(dense: DenseVectors) -> Ranker:
    """zotero-arxiv-daily: embedding cosine to the library, recent items weighted more."""

    def ranker(model: EditionModel, profile: Profile) -> list[str]:
        matrix = np.stack([dense.papers[p.arxiv_id] for p in model.papers])
        library = _library(profile)
        if library:
            # Newest first, as its Zotero library is sorted by date added.
            ordered = list(reversed(library))
            weights = np.array([1 / (1 + math.log10(i + 1)) for i in range(len(ordered))])
            sims = np.stack([matrix @ dense.papers[a] for a in ordered])
            scores = (weights[:, None] * sims).sum(axis=0) / weights.sum()
        else:
            texts = [*profile.keywords, profile.description]
            query = np.mean([dense.texts[t] for t in texts if t], axis=0)
            scores = matrix @ (query / np.linalg.norm(query))
        return _top(model, scores, profile)

    return ranker


def tfidf_and_minilm(dense: DenseVectors) -> Ranker:
    """An even mix of (b) and the MiniLM cosine, each scaled to the reader's best paper."""

    def ranker(model: EditionModel, profile: Profile) -> list[str]:
        parts = [*profile.keywords, profile.description]
        parts += [model.papers[model.index[a]].text for a in _library(profile)]
        lexical = (model.vectors_for([" ".join(parts)]) @ model.matrix.T).toarray()[0]
        matrix = np.stack([dense.papers[p.arxiv_id] for p in model.papers])
        queries = [dense.texts[t] for t in [*profile.keywords, profile.description] if t]
        queries += [dense.papers[a] for a in _library(profile)]
        semantic = (matrix @ np.stack(queries).T).max(axis=1)
        scores = lexical / max(lexical.max(), 1e-9) + semantic / max(semantic.max(), 1e-9)
        return _top(model, scores, profile)

    return ranker


def blend(weights: RankWeights, dense: DenseVectors | None = None) -> Ranker:
    def ranker(model: EditionModel, profile: Profile) -> list[str]:
        return [p.arxiv_id for p in rank(model, [profile], K, weights=weights, dense=dense)[0]]

    return ranker


def ndcg(ranked: list[str], judged: dict[str, int], k: int = K) -> float:
    gain = sum((2 ** judged.get(a, 0) - 1) / math.log2(i + 2) for i, a in enumerate(ranked[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return gain / best if best else 0.0


def precision(ranked: list[str], judged: dict[str, int], k: int = 5) -> float:
    return sum(1 for a in ranked[:k] if judged.get(a, 0) > 0) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="per-profile scores and picks")
    args = parser.parse_args()
    model, profiles = load()
    defaults = RankWeights()
    stored = load_vectors(model, profiles)
    methods: list[tuple[str, EditionModel, Ranker]] = [
        ("(a) keyword match", model, keyword_match),
        ("(b) tf-idf cosine", model, tfidf_cosine),
        ("(c) final blend (default install)", model, blend(defaults)),
    ]
    dense_model = None
    if isinstance(stored, tuple):
        dense, name = stored
        dense_model = fit_edition(model.papers, vectors=dense.papers)
        methods.append((f"(c) final blend + {name}", dense_model, blend(defaults, dense)))
    methods += [
        ("anchor: HF trending (upvotes)", model, trending),
        ("anchor: arxiv-sanity-lite (tf-idf + SVM)", model, arxiv_sanity),
    ]
    if isinstance(stored, tuple):
        methods += [
            ("anchor: zotero-arxiv-daily (MiniLM)", model, zotero(dense)),
            ("    (b) + MiniLM cosine, even mix", model, tfidf_and_minilm(dense)),
        ]
    ablated = dense_model or model
    dense_or_none = stored[0] if isinstance(stored, tuple) else None
    base = "(c) + MiniLM" if dense_or_none is not None else "(c)"
    methods += [
        (
            "    (c) default install without expansion",
            model,
            blend(defaults.model_copy(update=dict(expansion_weight=0.0))),
        ),
        (
            f"    {base} w/o trending/recency/category",
            ablated,
            blend(
                defaults.model_copy(
                    update=dict(trending_weight=0.0, recency_weight=0.0, category_weight=0.0)
                ),
                dense_or_none,
            ),
        ),
        (
            f"    {base} without diversity (MMR)",
            ablated,
            blend(
                defaults.model_copy(update=dict(mmr_lambda=1.0, duplicate_similarity=1.01)),
                dense_or_none,
            ),
        ),
    ]
    # Weights were tuned on the even-numbered profiles only; the odd ones are held out
    # and show whether a change generalises or merely fits the tuning profiles.
    tune = {item["name"] for item in profiles[::2]}
    print(
        f"{len(model)} papers, {len(profiles)} labelled profiles ({len(tune)} tune, "
        f"{len(profiles) - len(tune)} held out), cutoff {K}"
    )
    if isinstance(stored, str):
        print(f"MiniLM rows left out: {stored}")
    print()
    header = (
        f"{'method':<46} {'nDCG@10':>8} {'P@5':>6}   {'tune nDCG':>9} {'P@5':>6}"
        f"   {'held-out nDCG':>13} {'P@5':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, used, ranker in methods:
        n_scores: dict[str, float] = {}
        p_scores: dict[str, float] = {}
        for item in profiles:
            picks = ranker(used, as_profile(item["profile"]))
            n_scores[item["name"]] = ndcg(picks, item["relevant"])
            p_scores[item["name"]] = precision(picks, item["relevant"])
            if args.verbose:
                print(
                    f"  {item['name']:<32} nDCG {n_scores[item['name']]:.3f}  "
                    f"P@5 {p_scores[item['name']]:.2f}  "
                    + " ".join(f"{a}{'*' * item['relevant'].get(a, 0)}" for a in picks)
                )

        def mean(values: dict[str, float], held_out: bool | None = None) -> float:
            chosen = [v for n, v in values.items() if held_out is None or (n in tune) != held_out]
            return float(np.mean(chosen))

        print(
            f"{name:<46} {mean(n_scores):>8.3f} {mean(p_scores):>6.3f}"
            f"   {mean(n_scores, False):>9.3f} {mean(p_scores, False):>6.3f}"
            f"   {mean(n_scores, True):>13.3f} {mean(p_scores, True):>6.3f}"
        )


if __name__ == "__main__":
    main()
