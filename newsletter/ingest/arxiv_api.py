"""The arXiv API (Atom): search by category, or look papers up by id in batches.

lxml rather than feedparser here: feedparser drops arxiv:affiliation and folds the arxiv:*
extension elements inconsistently, and those are the fields this source is for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lxml import etree

from newsletter.config import Settings
from newsletter.ingest.http import Fetched, HttpClient
from newsletter.ingest.normalise import (
    InvalidPaper,
    MalformedDocument,
    PaperRecord,
    Parsed,
    clean_prose,
    clean_text,
    https,
    is_withdrawn,
    parse_time,
    parse_xml,
    pdf_url,
    split_arxiv_id,
)

SOURCE = "arxiv"
ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
NS = {"a": ATOM, "arxiv": ARXIV, "os": OPENSEARCH}
ID_BATCH = 100  # ids per id_list request: short URLs, few requests


class ArxivApiError(MalformedDocument):
    """The API answered with its error entry (bad query, bad id): fix the request."""


def parse(data: bytes, *, source: str = SOURCE) -> Parsed:
    """Turn one API response page into records; a bad entry becomes a problem, not a crash."""
    root = parse_xml(data, "arXiv API response")
    if root.tag != f"{{{ATOM}}}feed":
        raise MalformedDocument(f"arXiv API response: expected an Atom feed, got <{root.tag}>")
    parsed = Parsed()
    total = root.findtext("os:totalResults", namespaces=NS)
    if total is not None and total.strip().isdigit():
        parsed.total = int(total)
    for entry in root.iterfind("a:entry", NS):
        entry_id = (entry.findtext("a:id", namespaces=NS) or "").strip()
        if "/api/errors" in entry_id:
            message = _text(entry, "a:summary") or _text(entry, "a:title") or entry_id
            raise ArxivApiError(f"arXiv API error: {clean_text(message)}")
        try:
            parsed.records.append(_record(entry, entry_id, source))
        except InvalidPaper as exc:
            parsed.problem(entry_id.rsplit("/", 1)[-1] or None, str(exc))
    return parsed


def _text(node: etree._Element, path: str) -> str:
    found = node.find(path, NS)
    if found is None:
        return ""
    return "".join(found.itertext())


def _record(entry: etree._Element, entry_id: str, source: str) -> PaperRecord:
    if not entry_id:
        raise InvalidPaper("entry has no <id>")
    arxiv_id, version = split_arxiv_id(entry_id)
    title_raw = _text(entry, "a:title")
    abstract_raw = _text(entry, "a:summary")
    if not title_raw.strip():
        raise InvalidPaper("missing title")
    if not abstract_raw.strip():
        raise InvalidPaper("missing abstract")
    authors: list[dict[str, str | None]] = []
    for author in entry.iterfind("a:author", NS):
        name = clean_text(_text(author, "a:name"))
        if not name:
            continue
        affiliations = [
            clean_text("".join(a.itertext())) for a in author.iterfind("arxiv:affiliation", NS)
        ]
        affiliation = "; ".join(a for a in affiliations if a) or None
        authors.append({"name": name, "affiliation": affiliation})
    if not authors:
        raise InvalidPaper("no authors")
    abs_link = pdf_link = None
    for link in entry.iterfind("a:link", NS):
        if link.get("title") == "pdf":
            pdf_link = link.get("href")
        elif link.get("rel") == "alternate":
            abs_link = link.get("href")
    primary = entry.find("arxiv:primary_category", NS)
    categories = [c.get("term", "") for c in entry.iterfind("a:category", NS) if c.get("term")]
    comment = clean_text(_text(entry, "arxiv:comment")) or None
    abstract = clean_prose(abstract_raw)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version or 1,
        title=clean_prose(title_raw),
        title_raw=title_raw.strip(),
        abstract=abstract,
        abstract_raw=abstract_raw.strip(),
        authors=authors,
        categories=list(dict.fromkeys(categories)),
        primary_category=primary.get("term") if primary is not None else None,
        published_at=parse_time(_text(entry, "a:published")),
        updated_at=parse_time(_text(entry, "a:updated")),
        abs_url=https(abs_link) or f"https://arxiv.org/abs/{arxiv_id}v{version or 1}",
        # The title="pdf" link has been missing at times; the URL pattern is stable.
        pdf_url=https(pdf_link) or pdf_url(arxiv_id, version),
        comment=comment,
        journal_ref=clean_text(_text(entry, "arxiv:journal_ref")) or None,
        doi=_text(entry, "arxiv:doi").strip() or None,
        withdrawn=is_withdrawn(comment, abstract),
        source=source,
    )


def category_query(categories: Sequence[str]) -> str:
    return " OR ".join(f"cat:{c}" for c in categories)


def fetch_pages(
    client: HttpClient,
    settings: Settings,
    categories: Sequence[str],
    *,
    max_results: int | None = None,
) -> Iterator[tuple[Fetched, Parsed]]:
    """Yield (response, parsed page) for the newest submissions in `categories`, page by page.

    Stops at max_results, at the API's totalResults, or at an empty page (the API
    sometimes returns an empty page mid-way under load; stopping is the safe choice).
    """
    limit = max_results or settings.arxiv.max_results
    start = 0
    while start < limit:
        size = min(settings.arxiv.page_size, limit - start)
        fetched = client.get(
            settings.arxiv.api_url,
            params={
                "search_query": category_query(categories),
                "start": start,
                "max_results": size,
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            },
        )
        page = parse(fetched.content)
        yield fetched, page
        got = len(page.records) + len(page.problems)
        start += got
        if got == 0 or (page.total is not None and start >= page.total):
            return


def lookup(client: HttpClient, settings: Settings, ids: Sequence[str]) -> Parsed:
    """Fetch the current metadata of `ids` (without versions) in batches by id_list."""
    result = Parsed()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_BATCH):
        batch = unique[start : start + ID_BATCH]
        fetched = client.get(
            settings.arxiv.api_url,
            params={"id_list": ",".join(batch), "start": 0, "max_results": len(batch)},
        )
        page = parse(fetched.content)
        result.records.extend(page.records)
        result.problems.extend(page.problems)
    return result
