"""LaTeX in titles and abstracts to plain Unicode, without ever dropping the author's words.

pylatexenc does the parsing; this module only tells it what an abstract is not: a LaTeX
document. There `%` starts a comment (so "gains 4.2% top-1. Code is released." would end
at "4.2"), `~` inside a URL is a space, and macros the parser does not know vanish. Each
of those is handled before the text reaches pylatexenc, and the styling macros
(`\\mathcal`, `\\mathbb`, ...) give plain letters: mail fonts often lack the Mathematical
Alphanumeric Symbols, and a Subject line reading "O(1/n)" beats one with boxes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pylatexenc import latexwalker
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
from pylatexenc.macrospec import std_macro

# Letter-styling macros: the letters are the content, the style is dropped.
_STYLE_MACROS = (
    "mathcal mathscr mathbb mathbf mathit mathsf mathtt mathfrak mathrm mathnormal mathds "
    "boldsymbol bm pmb mathbbm textsf texttt textup textmd textnormal operatorname mathop "
    "textsuperscript textsubscript"
).split()
# Layout, sizes and old-style font switches ({\\em word}): no text of their own.
_SILENT_MACROS = (
    "em bf it rm sc tt sf sl up md small large Large LARGE tiny scriptsize footnotesize "
    "normalsize huge Huge itshape bfseries scshape ttfamily rmfamily sffamily normalfont "
    "upshape slshape mdseries newline linebreak left right big Big bigg Bigg bigl bigr "
    "Bigl Bigr biggl biggr xspace footnotemark noindent par hfill smallskip medskip bigskip "
    "displaystyle textstyle scriptstyle limits nolimits"
).split()
_SYMBOLS = {
    "checkmark": "\u2713",
    "ddagger": "\u2021",
    "S": "\u00a7",
    "P": "\u00b6",
    "copyright": "\u00a9",
    "degree": "\u00b0",
    "colon": ":",
    "implies": "\u27f9",
    "iff": "\u27fa",
    "neg": "\u00ac",
    "coloneqq": "\u2254",
    "Box": "\u25a1",
    "ie": "i.e.",
    "eg": "e.g.",
    "etal": "et al.",
    **{name: name for name in "arg argmax argmin det tr Pr LaTeX TeX".split()},
}
_CITATIONS = "cite citep citet citealp citealt citeauthor citeyear parencite textcite".split()
_REFERENCES = "ref eqref autoref cref Cref pageref".split()


def _href(node: Any, l2tobj: LatexNodes2Text) -> str:
    r"""Render ``\href{url}{text}`` as "text (url)": the words and where they point."""
    url, label = node.nodeargd.argnlist[0:1], node.nodeargd.argnlist[1:2]
    return f"{l2tobj.nodelist_to_text(label)} ({l2tobj.nodelist_to_text(url)})"


def _link(match: re.Match[str]) -> str:
    r"""Rewrite a plain ``\href`` before parsing, so its address is copied verbatim.

    A link whose text is its own address reads once, as the address.
    """
    url, label = match.group(1).strip(), match.group(2).strip()
    if not label or label.rstrip("/") == re.sub(r"^https?://", "", url).rstrip("/"):
        return f"\\url{{{url}}}"
    return f"{label} (\\url{{{url}}})"


_walker_context = latexwalker.get_default_latex_context_db()
_walker_context.add_context_category(
    "newsletter",
    prepend=True,
    macros=[
        *(
            std_macro(name, False, 1)
            for name in "boldsymbol bm pmb mathbbm mathds operatorname mathop "
            "textsuperscript textsubscript".split()
        ),
        *(std_macro(name, False, 2) for name in ("href", "dfrac", "tfrac", "binom")),
    ],
)
_text_context = get_default_latex_context_db()
_text_context.add_context_category(
    "newsletter",
    prepend=True,
    macros=[
        *(MacroTextSpec(name, discard=False) for name in _STYLE_MACROS),
        *(MacroTextSpec(name, simplify_repl="") for name in _SILENT_MACROS),
        *(MacroTextSpec(name, simplify_repl=text) for name, text in _SYMBOLS.items()),
        MacroTextSpec("url", simplify_repl="%s"),
        MacroTextSpec("href", simplify_repl=_href),
        MacroTextSpec("dfrac", simplify_repl="%s/%s"),
        MacroTextSpec("tfrac", simplify_repl="%s/%s"),
        MacroTextSpec("binom", simplify_repl="C(%s, %s)"),
        *(MacroTextSpec(name, simplify_repl="") for name in (*_CITATIONS, *_REFERENCES)),
    ],
)
_converter = LatexNodes2Text(
    latex_context=_text_context, math_mode="text", strict_latex_spaces=False
)

# Every macro either context knows; any other becomes its bare name (see _macro_name).
_KNOWN = frozenset(
    spec.macroname
    for context in (_walker_context, _text_context)
    for spec in context.iter_macro_specs()
)

_LATEX = re.compile(r"[\\${]")
# Citations and cross-references are markup, not words: drop them with the space before
# them, so "shown by~\cite{a}." reads "shown by." rather than "shown by ."
_CITE = re.compile(
    r"[ ~]*\\(?:" + "|".join(_CITATIONS + _REFERENCES) + r")\*?(?:\[[^\[\]]*\])*\{[^{}]*\}"
)
_HREF = re.compile(r"\\href\{([^{}]*)\}\{([^{}]*)\}")
# Copied verbatim: a URL (`~`, `%`, `_` and `#` mean other things in LaTeX), and a `~`
# that opens a word ("~50% fewer"): there it means "about", as arXiv's page shows it; a
# `~` inside ("Fig.~3") is LaTeX's tie, a space.
_VERBATIM = re.compile(r"\\url\{([^{}]*)\}|https?://[^\s{}$\\]+|(?:^|(?<=\s))~")
_MACRO = re.compile(r"\\\\|\\([A-Za-z]+)(\{\}|(?=\{))?")
# `%` alone is a percent sign in an abstract; a backslash pair is kept whole so `\%` and
# `\\%` are not escaped twice.
_PERCENT = re.compile(r"\\.|%", re.DOTALL)
_PLACEHOLDER = 0xE000  # private-use code points: pylatexenc copies them through untouched
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_MATH_ALPHANUMERICS = re.compile("[\U0001d400-\U0001d7ff]")


def latex_to_text(text: str) -> str:
    """Turn text with LaTeX markup into Unicode, keeping every word outside the markup."""
    if not _LATEX.search(text):
        return text
    verbatim: list[str] = []

    def protect(match: re.Match[str]) -> str:
        verbatim.append(match.group(1) if match.group(1) is not None else match.group(0))
        return chr(_PLACEHOLDER + len(verbatim) - 1)

    # The placeholders' own range is cleared first (invisible in mail anyway), so no
    # character of the text can be mistaken for one.
    prepared = _PRIVATE_USE.sub("", text)
    prepared = _VERBATIM.sub(protect, _HREF.sub(_link, _CITE.sub("", prepared)))
    prepared = _MACRO.sub(_macro_name, prepared)
    prepared = _PERCENT.sub(lambda m: "\\%" if m.group(0) == "%" else m.group(0), prepared)
    try:
        converted = _converter.latex_to_text(prepared, latex_context=_walker_context)
    except Exception:  # pylatexenc is lenient, but never lose the text over markup
        return text
    for index, kept in enumerate(verbatim):
        converted = converted.replace(chr(_PLACEHOLDER + index), kept)
    return converted


def _macro_name(match: re.Match[str]) -> str:
    r"""Keep an unknown macro as its name (``\ours{}`` reads "ours"), a known one as is.

    An unknown macro with a non-empty argument (``\hl{text}``) is left to pylatexenc,
    which drops the macro and keeps the argument's text.
    """
    name, after = match.group(1), match.group(2)
    if name is None or name in _KNOWN or after == "":
        return match.group(0)
    return name


def plain_letters(text: str) -> str:
    """Map Mathematical Alphanumeric Symbols (U+1D400-U+1D7FF) to the letters they style.

    NFKC on those code points only: the rest of the text (ligatures, superscripts, full
    width forms) stays as the author wrote it.
    """
    if not _MATH_ALPHANUMERICS.search(text):
        return text
    return _MATH_ALPHANUMERICS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
