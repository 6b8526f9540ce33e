"""Fill what a listing source leaves out from the arXiv API, in batches by id_list.

arXiv's RSS has no primary category, no affiliations and one comma-joined creator;
Hugging Face has no categories and no version. Careful tools look those papers up in the
API, many ids per request, and only the ones the database does not already know.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.ingest import arxiv_api
from newsletter.ingest.http import HttpClient
from newsletter.ingest.normalise import PaperRecord
from newsletter.models import Paper


def ids_to_look_up(session: Session, records: list[PaperRecord]) -> list[str]:
    """Return ids lacking a primary category that the database cannot already supply."""
    wanted = {r.arxiv_id: r for r in records if not r.primary_category}
    if not wanted:
        return []
    known = {
        arxiv_id: version
        for arxiv_id, version in session.execute(
            select(Paper.arxiv_id, Paper.version).where(
                Paper.arxiv_id.in_(list(wanted)), Paper.primary_category.is_not(None)
            )
        )
    }
    return [i for i, r in wanted.items() if i not in known or known[i] < r.version]


def fill_gaps(
    client: HttpClient, settings: Settings, records: list[PaperRecord], ids: list[str]
) -> int:
    """Merge the API's metadata into `records` for `ids`; return how many were filled.

    Raises FetchError / MalformedDocument if the API cannot be read: the caller keeps the
    records as they are and records the error.
    """
    if not ids:
        return 0
    found = {r.arxiv_id: r for r in arxiv_api.lookup(client, settings, ids).records}
    filled = 0
    for record in records:
        api = found.get(record.arxiv_id)
        if api is None:
            continue
        merge_from_api(record, api)
        filled += 1
    return filled


def merge_from_api(record: PaperRecord, api: PaperRecord) -> None:
    """Complete `record` (in place) with the API's view of the same paper."""
    if api.version >= record.version:
        # The API is at least as new: its text, authors (with affiliations) and version
        # are the better copy. The record keeps its own source and trending counts.
        record.version = api.version
        record.title, record.title_raw = api.title, api.title_raw
        record.abstract, record.abstract_raw = api.abstract, api.abstract_raw
        record.authors = api.authors or record.authors
        record.withdrawn = api.withdrawn or record.withdrawn
        record.abs_url, record.pdf_url = api.abs_url, api.pdf_url
        record.updated_at = api.updated_at or record.updated_at
        record.comment = api.comment or record.comment
        record.journal_ref = api.journal_ref or record.journal_ref
        record.doi = api.doi or record.doi
    record.primary_category = api.primary_category or record.primary_category
    record.categories = list(dict.fromkeys([*api.categories, *record.categories]))
    # The API's published date is the first submission; a listing's is its announcement.
    record.published_at = api.published_at or record.published_at
