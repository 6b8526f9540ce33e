"""Judge the ranking on hand-labelled reader profiles, tuned by cross-validation.

Papers: the bundled sample (newsletter/data/sample_papers.json: real papers) plus
bench/data/extra_papers.json (papers written for this evaluation: more topics, near
misses, words used in another sense, popular off-topic distractors). Profiles and graded
judgements (2 = certainly wanted, 1 = related): bench/data/eval_profiles.json.

Honest figures: the blend's weights are chosen from a small grid by k-fold
cross-validation over the profiles. Each profile is scored with the weights chosen on
the other folds, never on itself; the table gives the mean of those held-out scores,
each fold's mean and the worst profile. The weights shipped as defaults
(newsletter/ranking/weights.py) are the ones the same selection picks on all profiles.

Methods: keyword match, tf-idf cosine (one query of keywords + description + seed/liked
texts: what most tools do), MiniLM alone (best cosine of any one text or paper), the
default install (no embeddings), the blend with MiniLM, and the anchors rebuilt from
what they publish: Hugging Face trending (upvotes), arxiv-sanity-lite (its tf-idf + a
LinearSVC per reader), zotero-arxiv-daily (MiniLM cosine to the library).

MiniLM rows need bench/data/eval_vectors.npz, written by bench/embed_eval.py (with the
embeddings extra) and committed; if the data changed since, they are left out with a note.

Usage: .venv/bin/python bench/eval_ranking.py [--verbose]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import eval_methods as m  # noqa: E402

from newsletter.ranking.dense import DenseVectors  # noqa: E402
from newsletter.ranking.files import load_papers  # noqa: E402
from newsletter.ranking.model import EditionModel, fit_edition  # noqa: E402
from newsletter.ranking.profile import Profile  # noqa: E402
from newsletter.ranking.score import RankWeights, rank  # noqa: E402
from newsletter.ranking.vectors import digest  # noqa: E402

DATA = ROOT / "bench" / "data"
VECTORS = DATA / "eval_vectors.npz"
K = m.K
FOLDS = 5
# Largest shortfall any one profile may have against the method it must not fall below.
MARGIN = 0.03

# The small grids cross-validation chooses from: every combination is tried.
DEFAULT_GRID: dict[str, Sequence[float]] = {
    "expansion_weight": (0.5, 0.7),
    "feedback_weight": (0.35, 0.7, 0.85),
    "feedback_background": (0.0, 3.0, 10.0),
}
DENSE_GRID: dict[str, Sequence[float]] = {
    "dense_text_weight": (0.3, 0.5, 0.8),
    "dense_paper_weight": (0.0, 0.1, 0.3),
    "dense_agreement": (0.0, 0.5, 1.0),
}


def load() -> tuple[EditionModel, list[dict]]:
    papers = load_papers(ROOT / "newsletter" / "data" / "sample_papers.json")
    papers += load_papers(DATA / "extra_papers.json")
    profiles = json.loads((DATA / "eval_profiles.json").read_text())["profiles"]
    return fit_edition(papers), profiles


def as_profile(raw: dict) -> Profile:
    return Profile(**dict(raw.items()))


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


@dataclass
class Scores:
    """One method's held-out figures: per profile, and which weights each fold chose."""

    name: str
    ndcg: np.ndarray
    p5: np.ndarray
    chosen: list[str]


def fold_of(n: int) -> np.ndarray:
    """Profile i is in fold i mod FOLDS: each fold mixes old and newer profiles."""
    return np.arange(n) % FOLDS


def judge(picks: list[list[str]], profiles: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    ndcg = np.array([m.ndcg(p, item["relevant"]) for p, item in zip(picks, profiles, strict=True)])
    p5 = np.array(
        [m.precision(p, item["relevant"]) for p, item in zip(picks, profiles, strict=True)]
    )
    return ndcg, p5


def fixed(name: str, ranker: m.Ranker, model: EditionModel, profiles: list[dict]) -> Scores:
    picks = [ranker(model, as_profile(item["profile"])) for item in profiles]
    return Scores(name, *judge(picks, profiles), chosen=[])


def blend_scores(
    model: EditionModel, profiles: list[dict], weights: RankWeights, dense: DenseVectors | None
) -> tuple[np.ndarray, np.ndarray]:
    readers = [as_profile(item["profile"]) for item in profiles]
    ranked = rank(model, readers, K, weights=weights, dense=dense)
    return judge([[p.arxiv_id for p in picks] for picks in ranked], profiles)


def grid(base: RankWeights, axes: dict[str, Sequence[float]]) -> dict[str, RankWeights]:
    names = list(axes)
    out = {}
    for values in itertools.product(*(axes[n] for n in names)):
        label = " ".join(f"{n}={v:g}" for n, v in zip(names, values, strict=True))
        out[label] = base.model_copy(update=dict(zip(names, values, strict=True)))
    return out


def cross_validate(
    name: str,
    model: EditionModel,
    profiles: list[dict],
    candidates: Callable[[RankWeights], dict[str, RankWeights]],
    bases: list[RankWeights],
    floor: Callable[[RankWeights], np.ndarray],
    dense: DenseVectors | None = None,
) -> tuple[Scores, str, RankWeights]:
    """Score each fold with the weights best on the other folds.

    Best: the highest mean nDCG@10 among the weights that keep every training profile
    within MARGIN of `floor(base)` (per-profile scores of the method this one must not
    fall below: tf-idf for the default install, the default install for MiniLM); the
    highest mean overall if none does.

    `candidates(base)` is the grid around a fold's base weights, `bases` one base per
    fold and a last one for all profiles: the MiniLM grid starts from the default
    install's weights chosen on the same training folds, so nothing is tuned on the
    profiles it is judged on. Returns the held-out scores and the pick on all profiles.
    """
    cache: dict[RankWeights, tuple[np.ndarray, np.ndarray]] = {}

    def scores(w: RankWeights) -> tuple[np.ndarray, np.ndarray]:
        if w not in cache:
            cache[w] = blend_scores(model, profiles, w, dense)
        return cache[w]

    def best(grid_: dict[str, RankWeights], rows: np.ndarray, base: RankWeights) -> str:
        below = floor(base)[rows]

        def key(label: str) -> tuple[bool, float]:
            ndcg = scores(grid_[label])[0][rows]
            return bool((ndcg - below).min() >= -MARGIN), round(float(ndcg.mean()), 6)

        # Ties go to the first label of the grid, so the choice is reproducible.
        return max(grid_, key=key)

    folds = fold_of(len(profiles))
    ndcg = np.zeros(len(profiles))
    p5 = np.zeros(len(profiles))
    chosen = []
    for fold in range(FOLDS):
        train = folds != fold
        options = candidates(bases[fold])
        label = best(options, train, bases[fold])
        ndcg[~train], p5[~train] = (values[~train] for values in scores(options[label]))
        chosen.append(label)
    options = candidates(bases[FOLDS])
    shipped = best(options, np.ones(len(profiles), dtype=bool), bases[FOLDS])
    return Scores(name, ndcg, p5, chosen), shipped, options[shipped]


def row(s: Scores, names: list[str]) -> str:
    folds = fold_of(len(names))
    per_fold = " ".join(f"{s.ndcg[folds == f].mean():.3f}" for f in range(FOLDS))
    worst = int(np.argmin(s.ndcg))
    return (
        f"{s.name:<42} {s.ndcg.mean():>6.3f} {s.p5.mean():>5.3f}  {per_fold}  "
        f"{s.ndcg[worst]:.3f} {names[worst]}"
    )


def versus(a: Scores, b: np.ndarray, names: list[str]) -> tuple[float, str]:
    """Return the largest shortfall of a against b on one profile, and that profile."""
    gap = a.ndcg - b
    worst = int(np.argmin(gap))
    return float(gap[worst]), names[worst]


def check(label: str, ok: bool, detail: str) -> None:
    print(f"  [{'met' if ok else 'NOT met'}] {label}: {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="per-profile scores")
    args = parser.parse_args()
    model, profiles = load()
    names = [item["name"] for item in profiles]
    stored = load_vectors(model, profiles)
    rows = [
        fixed("keyword match", m.keyword_match, model, profiles),
        tfidf := fixed("tf-idf cosine", m.tfidf_cosine, model, profiles),
    ]
    start = RankWeights()
    default, default_pick, default_weights = cross_validate(
        "default install (CV)",
        model,
        profiles,
        lambda base: grid(base, DEFAULT_GRID),
        [start] * (FOLDS + 1),
        lambda base: tfidf.ndcg,
    )
    # The weights each fold chose, as the base of the MiniLM grid on that fold.
    fold_bases = [grid(start, DEFAULT_GRID)[label] for label in default.chosen]
    shipped = {"default install": default_pick}
    minilm = dense_only = None
    if isinstance(stored, tuple):
        dense, model_name = stored
        dense_model = fit_edition(model.papers, vectors=dense.papers)
        dense_only = fixed(f"{model_name} alone", m.dense_alone(dense), model, profiles)
        rows.append(dense_only)
        rows.append(default)
        minilm, minilm_pick, _ = cross_validate(
            f"default + {model_name} (CV)",
            dense_model,
            profiles,
            lambda base: grid(base, DENSE_GRID),
            [*fold_bases, default_weights],
            lambda base: blend_scores(model, profiles, base, None)[0],
            dense,
        )
        shipped["with MiniLM"] = minilm_pick
        rows.append(minilm)
    else:
        rows.append(default)
    rows += [
        fixed("anchor: HF trending (upvotes)", m.trending, model, profiles),
        sanity := fixed(
            "anchor: arxiv-sanity-lite (tf-idf + SVM)", m.arxiv_sanity, model, profiles
        ),
    ]
    if isinstance(stored, tuple):
        rows.append(fixed("anchor: zotero-arxiv-daily (MiniLM)", m.zotero(dense), model, profiles))

    print(
        f"{len(model)} papers, {len(profiles)} labelled profiles, cutoff {K}, "
        f"{FOLDS}-fold cross-validation over profiles (profile i in fold i mod {FOLDS})"
    )
    if isinstance(stored, str):
        print(f"MiniLM rows left out: {stored}")
    print()
    header = f"{'method':<42} {'nDCG':>6} {'P@5':>5}  {'per-fold nDCG@10':<34}  worst profile"
    print(header)
    print("-" * (len(header) + 20))
    for s in rows:
        print(row(s, names))
    print()
    for s in (default, minilm):
        if s is not None:
            print(f"{s.name}: weights chosen per fold: " + "; ".join(dict.fromkeys(s.chosen)))
    for what, label in shipped.items():
        print(f"chosen on all profiles ({what}), shipped as defaults: {label}")
    if args.verbose:
        print()
        print(f"{'profile':<40}" + "".join(f"{s.name[:12]:>13}" for s in rows))
        for i, name in enumerate(names):
            print(f"{name:<40}" + "".join(f"{s.ndcg[i]:>13.3f}" for s in rows))

    print("\nFigures to reach (issue 16):")
    gap, who = versus(default, tfidf.ndcg, names)
    lift = default.ndcg.mean() - tfidf.ndcg.mean()
    check("default >= tf-idf + 0.06 (mean)", lift >= 0.06, f"{lift:+.3f}")
    check(f"no profile > {MARGIN} below tf-idf", gap >= -MARGIN, f"worst {gap:+.3f} ({who})")
    if minilm is not None and dense_only is not None:
        lift = minilm.ndcg.mean() - default.ndcg.mean()
        check("MiniLM >= default + 0.03 (mean)", lift >= 0.03, f"{lift:+.3f}")
        gap, who = versus(minilm, default.ndcg, names)
        check(f"no profile > {MARGIN} below default", gap >= -MARGIN, f"worst {gap:+.3f} ({who})")
        parts = np.maximum(tfidf.ndcg, dense_only.ndcg)
        gap, who = versus(minilm, parts, names)
        check(
            f"blend never > {MARGIN} below the better of tf-idf and MiniLM alone",
            gap >= -MARGIN,
            f"worst {gap:+.3f} ({who})",
        )
    near = np.array(
        [bool(i["profile"].get("liked")) and bool(i["profile"].get("hidden")) for i in profiles]
    )
    for s in (default, minilm):
        if s is not None:
            ours, theirs = s.ndcg[near].mean(), sanity.ndcg[near].mean()
            check(
                f"likes/hides ({near.sum()} profiles): {s.name} >= arxiv-sanity's SVM",
                ours >= theirs,
                f"{ours:.3f} vs {theirs:.3f}",
            )


if __name__ == "__main__":
    main()
