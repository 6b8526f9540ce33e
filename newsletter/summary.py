"""One sentence that says what a paper does: the TL;DR of a digest card or a site page.

Hugging Face's `ai_summary` is written for exactly this, so it wins when ingested.
Otherwise the abstract's key sentence: the first that says what the authors do ("we
propose", "this paper introduces", "we show"), never the background sentence that opens
most abstracts ("Out-of-distribution detection is crucial for ..."), which reads the
same on five cards in a row.
"""

from __future__ import annotations

import re

# Sentence ends: a stop followed by a space and a capital, digit or opening mark.
# Abbreviations that end in a stop ("e.g.", "et al.", "Fig.") do not end a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'“])")
_NOT_AN_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|resp|approx)\.|(?:^|\s)[A-Z]\.)\Z"
)
_SPACES = re.compile(r"\s+")

# What a contribution sentence says; ranked: a sentence with a stronger cue wins.
_CUES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b(?:we|this (?:paper|work|article|study|report)|our (?:paper|work|method|approach)"
        r"|here,? we|in this (?:paper|work),? we)\b[^.]{0,40}?\b(?:propose|introduce|present|"
        r"develop|design|build|release|contribute|formulate)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:we|this (?:paper|work|study)|our (?:results|experiments|analysis))\b[^.]{0,40}?"
        r"\b(?:show|demonstrate|find|prove|establish|reveal|achieve|report)",
        re.IGNORECASE,
    ),
    re.compile(
        r"^(?:to (?:this end|address|tackle|solve|bridge|fill)|here,|in this (?:paper|work))",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:we|this (?:paper|work))\b", re.IGNORECASE),
)
MAX_CHARS = 320
# Openers that lean on the sentence before ("Hence, we propose"): alone on a card they
# dangle, so they go and the sentence starts at its subject.
_CONNECTIVE = re.compile(
    r"^(?:hence|thus|therefore|consequently|accordingly|moreover|furthermore|additionally"
    r"|in addition|to this end|to (?:address|tackle|solve|overcome|bridge|fill) (?:this|these|"
    r"the above|such) [\w-]+(?: [\w-]+)?|in this (?:paper|work|study)|here|finally"
    r"|specifically|concretely|instead|in contrast|however),\s+(?=we\b|this\b|our\b)",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """Split `text` into sentences, keeping abbreviations such as "e.g." inside one."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return []
    out: list[str] = []
    for part in _SENTENCE_END.split(text):
        if out and _NOT_AN_END.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def key_sentence(abstract: str) -> str:
    """Return the abstract's sentence that says what the paper does (its first if none do)."""
    found = sentences(abstract)
    if not found:
        return ""
    for cue in _CUES:
        for sentence in found:
            if cue.search(sentence):
                return _standalone(sentence)
    # No cue: the first sentence after a short background one reads better than it only
    # when there is no contribution sentence at all; keep the first (it names the topic).
    return found[0]


def _standalone(sentence: str) -> str:
    """Drop an opener that points back at the previous sentence ("Hence, we ...")."""
    rest = _CONNECTIVE.sub("", sentence, count=1)
    return rest[:1].upper() + rest[1:] if rest != sentence else sentence


def shorten(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def tldr(title: str, abstract: str, ai_summary: str | None) -> str:
    """One sentence saying what the paper does: `ai_summary` if any, else the key sentence.

    Empty when the paper has neither: repeating `title` would say nothing new (the
    title is taken so a caller's signature stays put when titles start to help).
    """
    summary = _SPACES.sub(" ", ai_summary or "").strip()
    if summary:
        return shorten(summary, MAX_CHARS)
    sentence = key_sentence(abstract)
    if sentence:
        return shorten(sentence, MAX_CHARS)
    return ""
