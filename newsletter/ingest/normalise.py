"""The common shape every source is turned into, and the text clean-up they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from pylatexenc.latex2text import LatexNodes2Text

# New style (2411.01234, optional version) and old style (math/0211159, hep-th/9901001v2).
_ARXIV_ID = re.compile(
    r"^(?P<id>(?:\d{4}\.\d{4,5})|(?:[a-z][a-z.\-]*/\d{7})|(?:sample\.\d{4}))(?:v(?P<v>\d+))?$",
    re.IGNORECASE,
)
_WHITESPACE = re.compile(r"\s+")
_latex = LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


class InvalidPaper(ValueError):
    """An entry cannot be stored; the message names what is wrong."""


@dataclass
class PaperRecord:
    """One paper as a source reported it, already normalised for storage."""

    arxiv_id: str
    title: str
    abstract: str = ""
    version: int = 1
    title_raw: str = ""
    abstract_raw: str = ""
    authors: list[dict[str, str | None]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    hf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    withdrawn: bool = False
    source: str = "sample"


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Split '2411.01234v2' or an abs URL into ('2411.01234', 2); version None if absent."""
    value = raw.strip()
    for prefix in ("http://arxiv.org/abs/", "https://arxiv.org/abs/", "arXiv:", "arxiv:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    match = _ARXIV_ID.match(value)
    if not match:
        raise InvalidPaper(f"not an arXiv identifier: {raw!r}")
    version = match.group("v")
    return match.group("id"), int(version) if version else None


def clean_text(raw: str) -> str:
    """Turn LaTeX-laden, hard-wrapped source text into readable Unicode on one line.

    Unknown macros such as ``\\collabvoyager`` become their bare name rather than
    vanishing, so a sentence keeps its subject.
    """
    text = _WHITESPACE.sub(" ", raw).strip()
    if "\\" in text or "$" in text or "{" in text:
        protected = re.sub(r"\\([A-Za-z]+)(?![A-Za-z{])", _keep_unknown_macro, text)
        try:
            text = _latex.latex_to_text(protected)
        except Exception:  # pylatexenc is lenient; never lose the text over markup
            text = protected
    return _WHITESPACE.sub(" ", text).strip()


_KNOWN_MACROS = frozenset(
    """alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu
    nu xi pi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi
    Sigma Phi Psi Omega times cdot leq geq neq approx sim infty pm mp to rightarrow leftarrow
    ell partial nabla sum prod int in notin subset subseteq cup cap emph textbf textit mathcal
    mathbb mathrm mathbf texttt ldots dots cdots log exp sqrt frac hat tilde bar vec ast star
    circ prime forall exists neg land lor oplus otimes dagger mid le ge ll gg propto equiv
    textsc underline mbox text url href cite ref footnote sc it bf rm tt em LaTeX TeX""".split()
)


def _keep_unknown_macro(match: re.Match[str]) -> str:
    name = match.group(1)
    return match.group(0) if name in _KNOWN_MACROS else name
