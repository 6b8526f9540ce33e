"""The bundled sample papers (from the page the project started from), for the demo and tests."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from newsletter.ingest.normalise import PaperRecord, clean_prose, split_arxiv_id

SOURCE = "sample"


def load_sample() -> list[PaperRecord]:
    """Return the bundled sample papers as records ready to upsert."""
    raw = resources.files("newsletter.data").joinpath("sample_papers.json").read_text("utf-8")
    return [_record(item) for item in json.loads(raw)["papers"]]


def _record(item: dict[str, Any]) -> PaperRecord:
    arxiv_id, version = split_arxiv_id(item["arxiv_id"])
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version or 1,
        title=clean_prose(item["title"]),
        title_raw=item["title"],
        abstract=clean_prose(item["abstract"]),
        abstract_raw=item["abstract"],
        authors=item.get("authors", []),
        categories=item.get("categories", []),
        primary_category=item.get("primary_category"),
        published_at=datetime.fromisoformat(item["published_at"]),
        # The sample has no arXiv page of its own: link to arXiv's title search instead.
        abs_url="https://arxiv.org/search/?"
        + urlencode({"searchtype": "title", "query": item["title"]}),
        upvotes=item.get("upvotes", 0),
        source=SOURCE,
    )
