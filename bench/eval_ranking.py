"""Judge the ranking on hand-labelled reader profiles: nDCG@10 and precision@5.

Papers: the bundled sample (newsletter/data/sample_papers.json, 84 papers) plus
bench/data/extra_papers.json (43 short papers written for this evaluation: more topics,
near misses, and distractors that share words with the profiles). Profiles and graded
judgements (2 = certainly wanted, 1 = related): bench/data/eval_profiles.json.

Methods, side by side:
  (a) keyword match    count of the reader's phrases found in the paper (keywords, and
                       the content words of the description and of seed/liked titles),
                       ties broken by upvotes
  (b) tf-idf cosine    one query vector (keywords + description + seed/liked texts)
                       against the papers: the simple approach most tools use
  (c) final blend      newsletter.ranking.rank with the default weights
and two ablations of (c), to show what the pieces add.

Profiles at even positions are the tuning set (the defaults trending_floor=0.5 and
mention_scaled were chosen on them alone); odd positions are held out.

Usage: .venv/bin/python bench/eval_ranking.py [--verbose]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsletter.ranking.files import load_papers  # noqa: E402
from newsletter.ranking.model import EditionModel, fit_edition  # noqa: E402
from newsletter.ranking.phrases import words  # noqa: E402
from newsletter.ranking.profile import Profile  # noqa: E402
from newsletter.ranking.score import RankWeights, rank  # noqa: E402

DATA = ROOT / "bench" / "data"
K = 10

Ranker = Callable[[EditionModel, Profile], list[str]]


def load() -> tuple[EditionModel, list[dict]]:
    papers = load_papers(ROOT / "newsletter" / "data" / "sample_papers.json")
    papers += load_papers(DATA / "extra_papers.json")
    profiles = json.loads((DATA / "eval_profiles.json").read_text())["profiles"]
    return fit_edition(papers), profiles


def as_profile(raw: dict) -> Profile:
    return Profile(**{key: value for key, value in raw.items()})


def _own(profile: Profile) -> set[str]:
    return {*profile.seed_papers, *profile.liked, *profile.hidden}


def _top(model: EditionModel, scores: np.ndarray, profile: Profile) -> list[str]:
    own = _own(profile)
    order = np.argsort(-scores, kind="stable")
    return [model.papers[i].arxiv_id for i in order if model.papers[i].arxiv_id not in own][:K]


def keyword_match(model: EditionModel, profile: Profile) -> list[str]:
    phrases = list(profile.keywords)
    texts = [profile.description]
    texts += [model.papers[model.index[a]].title for a in [*profile.seed_papers, *profile.liked]]
    for text in texts:
        phrases += [w for w in words(text) if w not in ENGLISH_STOP_WORDS and len(w) > 2]
    found = model.phrases.matches(sorted(set(phrases))).sum(axis=0).astype(float)
    upvotes = np.array([p.upvotes for p in model.papers], dtype=float)
    return _top(model, found + upvotes / (upvotes.max() + 1), profile)


def tfidf_cosine(model: EditionModel, profile: Profile) -> list[str]:
    parts = [*profile.keywords, profile.description]
    parts += [model.papers[model.index[a]].text for a in [*profile.seed_papers, *profile.liked]]
    query = model.vectors_for([" ".join(parts)])
    return _top(model, (query @ model.matrix.T).toarray()[0], profile)


def blend(weights: RankWeights) -> Ranker:
    def ranker(model: EditionModel, profile: Profile) -> list[str]:
        return [p.arxiv_id for p in rank(model, [profile], K, weights=weights)[0]]

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
    methods: list[tuple[str, Ranker]] = [
        ("(a) keyword match", keyword_match),
        ("(b) tf-idf cosine", tfidf_cosine),
        ("(c) final blend", blend(defaults)),
        (
            "    (c) without trending/recency/category",
            blend(replace(defaults, trending=0.0, recency=0.0, category=0.0)),
        ),
        (
            "    (c) without diversity (MMR)",
            blend(replace(defaults, mmr_lambda=1.0, duplicate_similarity=1.01)),
        ),
    ]
    # Weights were tuned on the even-numbered profiles only; the odd ones are held out
    # and show whether a change generalises or merely fits the tuning profiles.
    tune = {item["name"] for item in profiles[::2]}
    print(
        f"{len(model)} papers, {len(profiles)} labelled profiles ({len(tune)} tune, "
        f"{len(profiles) - len(tune)} held out), cutoff {K}\n"
    )
    header = (
        f"{'method':<44} {'nDCG@10':>8} {'P@5':>6}   {'tune nDCG':>9} {'P@5':>6}"
        f"   {'held-out nDCG':>13} {'P@5':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, ranker in methods:
        n_scores: dict[str, float] = {}
        p_scores: dict[str, float] = {}
        for item in profiles:
            picks = ranker(model, as_profile(item["profile"]))
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
            f"{name:<44} {mean(n_scores):>8.3f} {mean(p_scores):>6.3f}"
            f"   {mean(n_scores, False):>9.3f} {mean(p_scores, False):>6.3f}"
            f"   {mean(n_scores, True):>13.3f} {mean(p_scores, True):>6.3f}"
        )


if __name__ == "__main__":
    main()
