"""Match keyword phrases against the edition's papers through an inverted index.

A phrase matches a paper when its words appear in order, ignoring case, punctuation and
a plural "s" ("test-time adaptation" matches "Test time adaptations"). Built once per
edition; each distinct phrase is answered once from postings and cached, so a chunk of
readers costs one lookup per distinct phrase, not one scan of every paper per reader.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
from scipy import sparse

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Split into lower-case words with a crude plural fold (same on both sides)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


class PhraseIndex:
    """Postings of words to paper rows, plus each paper's normalised word string."""

    def __init__(self, texts: list[str]) -> None:
        self.size = len(texts)
        self._joined: list[str] = []
        postings: dict[str, list[int]] = defaultdict(list)
        for row, text in enumerate(texts):
            tokens = words(text)
            self._joined.append(" " + " ".join(tokens) + " ")
            for token in set(tokens):
                postings[token].append(row)
        self._postings = {t: np.asarray(rows, dtype=np.int64) for t, rows in postings.items()}
        self._cache: dict[str, np.ndarray] = {}

    def rows(self, phrase: str) -> np.ndarray:
        """Return the sorted paper rows where `phrase` occurs."""
        cached = self._cache.get(phrase)
        if cached is not None:
            return cached
        key = " ".join(words(phrase))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache[phrase] = cached
            return cached
        tokens = key.split()
        if not tokens:
            result = np.empty(0, dtype=np.int64)
        else:
            lists = [self._postings.get(t) for t in set(tokens)]
            if any(rows is None for rows in lists):
                result = np.empty(0, dtype=np.int64)
            else:
                present = [rows for rows in lists if rows is not None]
                result = present[0]
                for rows in present[1:]:
                    result = np.intersect1d(result, rows, assume_unique=True)
                if len(tokens) > 1:
                    needle = f" {key} "
                    result = np.asarray(
                        [r for r in result if needle in self._joined[r]], dtype=np.int64
                    )
        self._cache[key] = self._cache[phrase] = result
        return result

    def matrix(self, phrases: list[str]) -> sparse.csr_matrix:
        """Return a sparse (len(phrases), papers) 0/1 matrix of which phrase is in which paper."""
        found = [self.rows(phrase) for phrase in phrases]
        lengths = np.fromiter((len(rows) for rows in found), dtype=np.int64, count=len(found))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.concatenate(found) if found else np.empty(0, dtype=np.int64)
        data = np.ones(len(indices), dtype=np.float32)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(phrases), self.size))

    def matches(self, phrases: list[str]) -> np.ndarray:
        """Return a (len(phrases), papers) boolean matrix of which phrase is in which paper."""
        out = np.zeros((len(phrases), self.size), dtype=bool)
        for i, phrase in enumerate(phrases):
            out[i, self.rows(phrase)] = True
        return out
