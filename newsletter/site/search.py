"""Full-text search over titles, abstracts and authors, ranked, with the matches marked.

PostgreSQL searches the generated `search_vector` column (GIN index) with
`websearch_to_tsquery`, which accepts any text: quotes make phrases, `-word` excludes,
`or` widens, and nothing a visitor types is a syntax error. SQLite searches the FTS5
table `papers_fts`; FTS5's own query language does reject stray quotes and operators,
so the visitor's text is rewritten into quoted terms first. Both engines mark matches
with private-use characters that we turn into <mark> after escaping the text.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from newsletter.site.cards import Card, cards_by_id

log = logging.getLogger(__name__)

PER_PAGE = 20
MAX_QUERY = 300  # characters searched; the rest of a longer text is ignored
MAX_TERMS = 24
COUNT_CAP = 1000  # "1000+ results" is all anyone needs to know
START, STOP = "\ue000", "\ue001"

# Objects the search migration adds outside the SQLAlchemy model (autogenerate skips them).
SEARCH_TABLE_PREFIX = "papers_fts"
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_papers_search"

_PHRASE_OR_WORD = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    card: Card
    title: Markup
    snippet: Markup


@dataclass(frozen=True)
class Results:
    query: str
    truncated: bool
    hits: list[Hit]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, COUNT_CAP) // PER_PAGE))


def clean_query(raw: str) -> tuple[str, bool]:
    """Return the searchable part of a visitor's text, and whether it was cut.

    NUL and other control characters are dropped (PostgreSQL refuses NUL in text), as
    are our own highlight markers; whitespace collapses; long texts are cut at a word.
    """
    kept = "".join(
        ch if unicodedata.category(ch)[0] != "C" else " "
        for ch in raw[: MAX_QUERY * 4]
        if ch not in (START, STOP)
    )
    query = " ".join(kept.split())
    truncated = len(raw) > MAX_QUERY * 4 or len(query) > MAX_QUERY
    if len(query) > MAX_QUERY:
        cut = query[:MAX_QUERY]
        query = cut[: cut.rfind(" ")] if " " in cut else cut
    return query, truncated


def fts5_query(query: str) -> str:
    """Rewrite free text into an FTS5 query that cannot be a syntax error.

    Every word is quoted (so AND, NEAR, `*`, `:` and brackets are plain words), a quoted
    stretch stays a phrase, and `-word` excludes; the remaining terms must all match.
    """
    wanted: list[str] = []
    unwanted: list[str] = []
    for match in _PHRASE_OR_WORD.finditer(query):
        if match.group(2) is not None:
            negate, words = match.group(1), _WORD.findall(match.group(2))
            terms = [" ".join(words)] if words else []
        else:
            negate, words = match.group(3), _WORD.findall(match.group(4))
            terms = words
        for term in terms:
            (unwanted if negate else wanted).append('"' + term.replace('"', "") + '"')
    wanted, unwanted = wanted[:MAX_TERMS], unwanted[:MAX_TERMS]
    if not wanted:
        return ""
    return " ".join(wanted) + "".join(f" NOT {term}" for term in unwanted)


def marked(value: str | None) -> Markup:
    """Escape an engine's highlighted text, then turn its markers into <mark> elements."""
    escaped = str(escape(value or ""))
    return Markup(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))


def search(session: Session, raw: str, page: int = 1) -> Results:
    """Return one page of papers matching `raw`, best first."""
    query, truncated = clean_query(raw)
    page = max(1, min(page, COUNT_CAP // PER_PAGE))
    if not query:
        return Results(query, truncated, [], 0, page)
    offset = (page - 1) * PER_PAGE
    if session.get_bind().dialect.name == "postgresql":
        total, rows = _postgres(session, query, offset)
    else:
        total, rows = _sqlite(session, query, offset)
    cards = {card.arxiv_id: card for card in cards_by_id(session, [r[0] for r in rows])}
    hits = [
        Hit(cards[arxiv_id], marked(title), marked(snippet))
        for arxiv_id, title, snippet in rows
        if arxiv_id in cards
    ]
    return Results(query, truncated, hits, total, page)


_PG_COUNT = text(
    "SELECT count(*) FROM (SELECT 1 FROM papers "
    "WHERE search_vector @@ websearch_to_tsquery('english', :q) AND NOT withdrawn "
    "LIMIT :cap) AS found"
)
_PG_PAGE = text(
    "WITH q AS (SELECT websearch_to_tsquery('english', :q) AS q), "
    "best AS (SELECT p.id, ts_rank_cd(p.search_vector, q.q) AS rank FROM papers p, q "
    "  WHERE p.search_vector @@ q.q AND NOT p.withdrawn "
    "  ORDER BY rank DESC, p.published_at DESC NULLS LAST, p.id LIMIT :limit OFFSET :offset) "
    "SELECT p.arxiv_id, "
    "  ts_headline('english', p.title, q.q, :title_opts), "
    "  ts_headline('english', p.abstract, q.q, :snippet_opts) "
    "FROM best JOIN papers p ON p.id = best.id, q "
    "ORDER BY best.rank DESC, p.published_at DESC NULLS LAST, p.id"
)
_MARKS = f"StartSel={START}, StopSel={STOP}"
_SNIPPET = 'MaxWords=40, MinWords=18, MaxFragments=2, FragmentDelimiter=" … "'


def _postgres(session: Session, query: str, offset: int) -> tuple[int, list[Any]]:
    params = {"q": query, "cap": COUNT_CAP + 1}
    total = int(session.execute(_PG_COUNT, params).scalar_one())
    if total == 0 or offset >= total:
        return total, []
    rows = session.execute(
        _PG_PAGE,
        {
            **params,
            "limit": PER_PAGE,
            "offset": offset,
            "title_opts": f"{_MARKS}, HighlightAll=true",
            "snippet_opts": f"{_MARKS}, {_SNIPPET}",
        },
    ).all()
    return total, [tuple(row) for row in rows]


_SQLITE_COUNT = text(
    "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH :q LIMIT :cap)"
)
_SQLITE_PAGE = text(
    "SELECT p.arxiv_id, highlight(papers_fts, 0, :start, :stop), "
    "  snippet(papers_fts, 1, :start, :stop, ' … ', 36) "
    "FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid "
    "WHERE papers_fts MATCH :q AND p.withdrawn = 0 "
    # Column weights: a match in the title counts most, then authors, then abstract.
    "ORDER BY bm25(papers_fts, 10.0, 1.0, 4.0), p.published_at DESC, p.id "
    "LIMIT :limit OFFSET :offset"
)


def _sqlite(session: Session, query: str, offset: int) -> tuple[int, list[Any]]:
    match = fts5_query(query)
    if not match:
        return 0, []
    try:
        total = int(session.execute(_SQLITE_COUNT, {"q": match, "cap": COUNT_CAP + 1}).scalar_one())
        if total == 0 or offset >= total:
            return total, []
        rows = session.execute(
            _SQLITE_PAGE,
            {"q": match, "start": START, "stop": STOP, "limit": PER_PAGE, "offset": offset},
        ).all()
    except DBAPIError:
        # fts5_query quotes everything, so this is our bug, not the visitor's: they see
        # "nothing found", the log keeps the query.
        log.exception("FTS5 refused the query %r", match)
        return 0, []
    return total, [tuple(row) for row in rows]


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Tell Alembic's autogenerate to leave the search objects of migration 0007 alone."""
    if type_ == "table" and name and name.startswith(SEARCH_TABLE_PREFIX):
        return False
    if type_ == "column" and name == SEARCH_COLUMN:
        return False
    return not (type_ == "index" and name == SEARCH_INDEX)
