"""OAI-PMH backfill (oaipmh.arxiv.org): every paper of a category changed in the last N days.

For an operator filling a fresh database. ListRecords pages are followed through their
resumptionToken; arXivRaw is the default format because it lists every version (so the
version number is right) with its date and size (a withdrawn version has size 0kb).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from lxml import etree

from newsletter.config import Settings
from newsletter.ingest.http import Fetched, HttpClient
from newsletter.ingest.normalise import (
    InvalidPaper,
    MalformedDocument,
    PaperRecord,
    Parsed,
    abs_url,
    clean_prose,
    clean_text,
    is_withdrawn,
    parse_time,
    parse_xml,
    pdf_url,
    split_arxiv_id,
    split_author_names,
)

SOURCE = "oai"
OAI = "http://www.openarchives.org/OAI/2.0/"
FORMATS = {"arXivRaw": "http://arxiv.org/OAI/arXivRaw/", "arXiv": "http://arxiv.org/OAI/arXiv/"}
# Archives that sit under the "physics" group in arXiv's OAI set hierarchy.
_PHYSICS = frozenset(
    """astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph nlin nucl-ex nucl-th
    physics quant-ph""".split()
)


class OaiError(MalformedDocument):
    """The repository answered with an OAI-PMH error (bad set, bad token, bad format)."""


def set_spec(category: str) -> str:
    """Map 'cs.LG' to the OAI set 'cs:cs:LG' (and 'hep-th' to 'physics:hep-th')."""
    if ":" in category:
        return category
    archive, _, subject = category.partition(".")
    group = "physics" if archive in _PHYSICS else archive
    spec = f"{group}:{archive}"
    return f"{spec}:{subject}" if subject else (archive if group == archive else spec)


def parse(data: bytes, *, source: str = SOURCE) -> Parsed:
    """Turn one ListRecords page into records; next_token is set when more pages follow."""
    root = parse_xml(data, "OAI-PMH response")
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise MalformedDocument(f"OAI-PMH response: expected <OAI-PMH>, got <{root.tag}>")
    parsed = Parsed()
    for error in root.iterfind(f"{{{OAI}}}error"):
        code = error.get("code", "")
        if code == "noRecordsMatch":  # an empty window is an answer, not a failure
            return parsed
        raise OaiError(f"OAI-PMH error {code}: {(error.text or '').strip()}")
    listing = root.find(f"{{{OAI}}}ListRecords")
    if listing is None:
        raise MalformedDocument("OAI-PMH response: no <ListRecords> element")
    for record in listing.iterfind(f"{{{OAI}}}record"):
        header = record.find(f"{{{OAI}}}header")
        identifier = (header.findtext(f"{{{OAI}}}identifier") if header is not None else "") or ""
        guess = identifier.replace("oai:arXiv.org:", "") or None
        if header is not None and header.get("status") == "deleted":
            parsed.problem(guess, "deleted record")
            continue
        try:
            parsed.records.append(_record(record, source))
        except InvalidPaper as exc:
            parsed.problem(guess, str(exc))
    token = listing.find(f"{{{OAI}}}resumptionToken")
    if token is not None and (token.text or "").strip():
        parsed.next_token = (token.text or "").strip()
    return parsed


def _find_metadata(record: etree._Element) -> tuple[etree._Element, str]:
    metadata = record.find(f"{{{OAI}}}metadata")
    if metadata is not None:
        for fmt, ns in FORMATS.items():
            found = metadata.find(f"{{{ns}}}{fmt}")
            if found is not None:
                return found, ns
    raise InvalidPaper("record has no arXivRaw or arXiv metadata")


def _record(record: etree._Element, source: str) -> PaperRecord:
    meta, ns = _find_metadata(record)

    def text(tag: str) -> str:
        found = meta.find(f"{{{ns}}}{tag}")
        return "".join(found.itertext()) if found is not None else ""

    arxiv_id, _ = split_arxiv_id(text("id"))
    title_raw, abstract_raw = text("title"), text("abstract")
    if not title_raw.strip():
        raise InvalidPaper("missing title")
    if not abstract_raw.strip():
        raise InvalidPaper("missing abstract")
    categories = text("categories").split()
    comment = clean_text(text("comments")) or None
    abstract = clean_prose(abstract_raw)
    withdrawn = is_withdrawn(comment, abstract)
    version = 0
    published = updated = None
    if ns == FORMATS["arXivRaw"]:
        versions = list(meta.iterfind(f"{{{ns}}}version"))
        if versions:
            numbers = [int(v.get("version", "v0").lstrip("v") or 0) for v in versions]
            version = max(numbers)
            dates = [parse_time(v.findtext(f"{{{ns}}}date")) for v in versions]
            published, updated = dates[numbers.index(min(numbers))], dates[numbers.index(version)]
            last_size = (versions[numbers.index(version)].findtext(f"{{{ns}}}size") or "").strip()
            withdrawn = withdrawn or last_size in {"0kb", "0"}
        names = split_author_names(clean_text(text("authors")))
        authors: list[dict[str, str | None]] = [{"name": n, "affiliation": None} for n in names]
    else:
        authors = []
        for author in meta.iterfind(f"{{{ns}}}authors/{{{ns}}}author"):
            parts = [
                author.findtext(f"{{{ns}}}forenames") or "",
                author.findtext(f"{{{ns}}}keyname") or "",
                author.findtext(f"{{{ns}}}suffix") or "",
            ]
            name = clean_text(" ".join(p for p in parts if p))
            affiliation = "; ".join(
                clean_text(a.text or "") for a in author.iterfind(f"{{{ns}}}affiliation")
            )
            if name:
                authors.append({"name": name, "affiliation": affiliation or None})
        published = parse_time(text("created"))
        updated = parse_time(text("updated")) or published
    if not authors:
        raise InvalidPaper("no authors")
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=clean_prose(title_raw),
        title_raw=title_raw.strip(),
        abstract=abstract,
        abstract_raw=abstract_raw.strip(),
        authors=authors,
        categories=categories,
        # arXiv lists the primary category first.
        primary_category=categories[0] if categories else None,
        published_at=published,
        updated_at=updated,
        abs_url=abs_url(arxiv_id, version or None),
        pdf_url=pdf_url(arxiv_id, version or None),
        comment=comment,
        journal_ref=clean_text(text("journal-ref")) or None,
        doi=text("doi").strip() or None,
        withdrawn=withdrawn,
        source=source,
    )


def fetch_pages(
    client: HttpClient,
    settings: Settings,
    category: str,
    since: date,
    *,
    metadata_prefix: str = "arXivRaw",
    max_pages: int = 1000,
) -> Iterator[tuple[Fetched, Parsed]]:
    """Yield every ListRecords page for `category` changed since `since`."""
    params: dict[str, str] = {
        "verb": "ListRecords",
        "metadataPrefix": metadata_prefix,
        "set": set_spec(category),
        "from": since.isoformat(),
    }
    for _ in range(max_pages):
        fetched = client.get(settings.oai_url, params=params)
        page = parse(fetched.content)
        yield fetched, page
        if not page.next_token:
            return
        # Only the verb and the token may accompany a resumptionToken.
        params = {"verb": "ListRecords", "resumptionToken": page.next_token}
