"""Say in a few words why each paper was picked for a reader.

The reason names the strongest relevance signal first, specifically: which keyword and
where ("Your keyword 'test-time adaptation' in the title"), which seed or liked paper it
resembles (by its title), the reader's feedback model, their description; then the
reader's category and the upvotes: "...; in your category cs.LG; 128 upvotes". A pick
with none of these says it is popular outside the reader's interests. Two picks of one
digest never carry the same words unless they state the same fact. The ranker gathers
the signals at every pick in one array pass; here only the words are put together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from newsletter.ranking.model import EditionModel
from newsletter.ranking.profile import Pick, Profile
from newsletter.ranking.signals.boosts import Asked
from newsletter.ranking.signals.references import Refs
from newsletter.ranking.signals.relevance import Relevance

# Signals are scaled so the reader's best candidate is 1; below these fractions of the
# best, a similarity is too weak to be worth naming.
SIMILAR = 0.4
RELATED = 0.3
MODEL_CONFIDENT = 0.75


@dataclass
class PickSignals:
    """Each signal's value at each pick: arrays of shape (readers, k) unless noted."""

    cols: np.ndarray  # chosen paper columns, -1 where the digest ran short
    score: np.ndarray
    keyword_slots: list[list[tuple[str, int]]]  # per reader: (keyword as typed, phrase id)
    category_cells: tuple[list[int], list[int]]  # (reader, category column) asked for
    found: sparse.csr_matrix  # (phrases x papers) keyword phrase present
    text: np.ndarray
    has_text: np.ndarray  # (readers,)
    seed: np.ndarray
    liked: np.ndarray
    model: np.ndarray
    has_model: np.ndarray  # (readers,)


def pick_signals(
    chosen: np.ndarray,
    score: np.ndarray,
    relevance: Relevance,
    learned: np.ndarray,
    has_model: np.ndarray,
    asked: Asked,
) -> PickSignals:
    """Gather every signal at each reader's picks (`chosen`, -1 padded) in one go.

    Relevance signals are put on the reader's scale (best candidate 1), as they were
    averaged; `learned` (the feedback models' scores) is on [0, 1] already.
    """
    readers = np.arange(len(chosen))
    cols = np.where(chosen >= 0, chosen, 0)
    rows = readers[:, None]
    model_pick = np.zeros(cols.shape, dtype=np.float32)
    if has_model.any():
        model_pick[has_model] = np.take_along_axis(learned[has_model], cols[has_model], axis=1)
    text_top, papers_top = relevance.text_top, relevance.papers_top
    return PickSignals(
        cols=chosen,
        score=score[rows, cols],
        keyword_slots=asked.keyword_slots,
        category_cells=asked.category_cells,
        found=asked.found,
        text=relevance.text[rows, cols] / np.where(text_top > 0, text_top, 1.0)[:, None],
        has_text=text_top > 0,
        seed=relevance.seeds.at(cols) / np.where(papers_top > 0, papers_top, 1)[:, None],
        liked=relevance.liked.at(cols) / np.where(papers_top > 0, papers_top, 1)[:, None],
        model=model_pick,
        has_model=has_model,
    )


def _keyword_hits(s: PickSignals) -> np.ndarray:
    """Return (readers, slots, k): whether the reader's i-th keyword is in the j-th pick."""
    width = max((len(own) for own in s.keyword_slots), default=0)
    n_readers, k = s.cols.shape
    if width == 0:
        return np.zeros((n_readers, 0, k), dtype=bool)
    ids = np.full((n_readers, width), -1, dtype=np.int64)
    for reader, own in enumerate(s.keyword_slots):
        ids[reader, : len(own)] = [pid for _, pid in own]
    cols = np.where(s.cols >= 0, s.cols, 0)
    present = ids >= 0
    # Look each (phrase, paper) pair up among the matrix's stored cells: no dense copy.
    found = s.found.tocoo()
    n_papers = s.found.shape[1]
    stored = np.sort(found.row.astype(np.int64) * n_papers + found.col)
    wanted = np.where(present, ids, 0)[:, :, None] * n_papers + cols[:, None, :]
    spot = np.minimum(np.searchsorted(stored, wanted), max(len(stored) - 1, 0))
    hits = (stored[spot] == wanted) if len(stored) else np.zeros(wanted.shape, dtype=bool)
    return np.asarray(hits & present[:, :, None])


def explain_chunk(
    model: EditionModel,
    profiles: Sequence[Profile],
    s: PickSignals,
    refs: Refs | None = None,
    titles: Mapping[str, str] | None = None,
) -> list[list[Pick]]:
    """Turn each reader's chosen columns into Picks with their reasons.

    `refs` and `titles` let a reason name a liked or seed paper from an earlier edition
    by its title (the closest one to the pick, by the same similarity ranking used).
    """
    named = _Anchors(model, refs, titles or {})
    n_readers, k = s.cols.shape
    cols = np.where(s.cols >= 0, s.cols, 0)
    hits = _keyword_hits(s)
    keyword = hits.any(axis=1) if hits.shape[1] else np.zeros((n_readers, k), dtype=bool)
    similar = np.maximum(s.seed, s.liked) >= SIMILAR
    # Which words lead the reason, decided for every pick at once (0: none of these).
    lead = np.select(
        [
            keyword,
            similar & (s.liked > s.seed),
            similar,
            s.has_model[:, None] & (s.model >= MODEL_CONFIDENT),
            s.has_text[:, None] & (s.text >= RELATED),
        ],
        [1, 2, 3, 4, 5],
        0,
    ).tolist()
    category = _shared_category(model, s.category_cells, cols).tolist()
    # The first two of the reader's keywords found in each pick (-1: none).
    first = second = np.full((n_readers, k), -1, dtype=np.int64)
    if hits.shape[1]:
        first = hits.argmax(axis=1)
        rest = hits.copy()
        np.put_along_axis(rest, first[:, None, :], False, axis=1)
        second = np.where(rest.any(axis=1), rest.argmax(axis=1), -1)
    first_hit, second_hit = first.tolist(), second.tolist()
    names = model.category_names
    papers = model.papers
    upvotes, fallback = model.paper_phrases
    cols_l, score_l = s.cols.tolist(), s.score.tolist()
    out: list[list[Pick]] = []
    for reader, profile in enumerate(profiles):
        reasons: list[tuple[int, str]] = []
        for j, col in enumerate(cols_l[reader]):
            if col < 0:
                break
            code = lead[reader][j]
            if code == 1:
                own = s.keyword_slots[reader]
                found = [own[first_hit[reader][j]][0]]
                if second_hit[reader][j] >= 0:
                    found.append(own[second_hit[reader][j]][0])
                lead_words = _keywords_where(found, papers[col].title)
            elif code == 2:
                lead_words = "resembles " + named.liked(profile.liked, col)
            elif code == 3:
                lead_words = "resembles " + named.seed(profile.seed_papers, col)
            elif code == 4:
                lead_words = "like papers you liked or opened"
            elif code == 5:
                lead_words = "related to your " + (
                    "description" if profile.description else "keywords"
                )
            else:
                lead_words = ""
            shared = category[reader][j]
            parts = [lead_words] if lead_words else []
            if shared >= 0:
                parts.append(f"in your category {names[shared]}")
            if not parts:
                # Nothing of the reader's matched: say so, with the numbers that put it here.
                parts.append(
                    f"popular outside your interests: {upvotes[col]}"
                    if upvotes[col]
                    else fallback[col]
                )
            reasons.append((col, _sentence(parts)))
        out.append(
            [
                Pick(model.papers[col].arxiv_id, score_l[reader][j], reason)
                for j, (col, reason) in enumerate(_distinct(model, reasons))
            ]
        )
    return out


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _keywords_where(found: list[str], title: str) -> str:
    """ "'test-time adaptation' in the title" (or the abstract): where the reader's words are."""
    lowered = title.lower()
    in_title = [k for k in found if k.lower() in lowered]
    elsewhere = [k for k in found if k.lower() not in lowered]
    said = []
    if in_title:
        said.append(" and ".join(f"'{k}'" for k in in_title) + " in the title")
    if elsewhere:
        said.append(" and ".join(f"'{k}'" for k in elsewhere) + " in the abstract")
    return "your keyword" + ("s " if len(found) > 1 else " ") + ", ".join(said)


def _distinct(model: EditionModel, reasons: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Make two picks' reasons differ unless they state the same fact of the same paper.

    Two cards both saying "In your category cs.CV" read as boilerplate: the later one
    gains what sets its paper apart (its other categories, then its first words).
    """
    seen: set[str] = set()
    out = []
    for col, reason in reasons:
        if reason in seen:
            paper = model.papers[col]
            others = [c for c in paper.categories if c not in reason][:2]
            if others:
                reason = f"{reason}; also in {', '.join(others)}"
            if reason in seen:
                reason = f"{reason}; “{_first_words(paper.title)}”"
        seen.add(reason)
        out.append((col, reason))
    return out


def _first_words(title: str, count: int = 6) -> str:
    words = title.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


def _shared_category(
    model: EditionModel, cells: tuple[list[int], list[int]], cols: np.ndarray
) -> np.ndarray:
    """Return, per pick, the id of the paper's first category the reader asked for, or -1.

    A reader's archive ("cs") counts for all its categories ("cs.LG").
    """
    n_readers = len(cols)
    wanted = np.zeros((n_readers, len(model.category_index) + 1), dtype=bool)  # last: padding
    wanted[cells[0], cells[1]] = True
    full, archive = model.paper_categories  # (papers, slots), -1 padded
    rows = np.arange(n_readers)[:, None, None]
    match = wanted[rows, full[cols]] | wanted[rows, archive[cols]]  # (readers, k, slots)
    first = match.argmax(axis=2)
    ids = np.take_along_axis(full[cols], first[:, :, None], axis=2)[:, :, 0]
    return np.where(match.any(axis=2), ids, -1)


@dataclass
class _Anchors:
    """Name the reader's paper (liked or seed) closest to a pick, by its title."""

    model: EditionModel
    refs: Refs | None
    titles: Mapping[str, str]

    def _closest(self, anchors: Sequence[str], col: int) -> str | None:
        best, best_sim = None, -1.0
        for arxiv_id in anchors:
            if self.refs is not None and arxiv_id in self.refs.position:
                sim = float(self.refs.to_candidates[self.refs.position[arxiv_id], col])
            elif arxiv_id in self.model.index:
                row = np.array([self.model.index[arxiv_id]])
                sim = float(self.model.similarity_rows(row)[0, col])
            else:
                continue
            if sim > best_sim:
                best, best_sim = arxiv_id, sim
        return best

    def _title(self, arxiv_id: str) -> str | None:
        if arxiv_id in self.model.index:
            return self.model.papers[self.model.index[arxiv_id]].title
        return self.titles.get(arxiv_id)

    def liked(self, anchors: Sequence[str], col: int) -> str:
        best = self._closest(anchors, col)
        title = self._title(best) if best else None
        if title:
            return f"“{_first_words(title, 10)}”, which you liked"
        return f"{best}, which you liked" if best else "a paper you liked"

    def seed(self, anchors: Sequence[str], col: int) -> str:
        best = self._closest(anchors, col)
        title = self._title(best) if best else None
        if title:
            return f"your seed paper “{_first_words(title, 10)}”"
        if best:
            return f"your seed paper {best}"
        return "your seed papers"
