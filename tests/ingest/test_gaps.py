"""Gap filling from the arXiv API: which ids are looked up, and how the two views merge."""

from __future__ import annotations

from datetime import UTC, datetime

from newsletter.db import session_scope
from newsletter.ingest.gaps import ids_to_look_up, merge_from_api
from newsletter.ingest.normalise import PaperRecord
from newsletter.models import Paper

ANNOUNCED = datetime(2026, 11, 26, tzinfo=UTC)
SUBMITTED = datetime(2026, 11, 24, 17, 3, tzinfo=UTC)


def listing(version: int = 1, **fields) -> PaperRecord:
    """A paper as Hugging Face lists it: upvotes, no categories, its own text."""
    values = {
        "arxiv_id": "2611.00001",
        "title": "Listing title",
        "abstract": "Listing abstract.",
        "version": version,
        "authors": [{"name": "A. Author", "affiliation": None}],
        "published_at": ANNOUNCED,
        "upvotes": 42,
        "hf_url": "https://huggingface.co/papers/2611.00001",
        "source": "hf",
        **fields,
    }
    return PaperRecord(**values)


def api(version: int, **fields) -> PaperRecord:
    values = {
        "arxiv_id": "2611.00001",
        "title": f"API title v{version}",
        "abstract": f"API abstract v{version}.",
        "version": version,
        "authors": [{"name": "A. Author", "affiliation": "Somewhere University"}],
        "categories": ["cs.LG", "stat.ML"],
        "primary_category": "cs.LG",
        "published_at": SUBMITTED,
        "abs_url": f"https://arxiv.org/abs/2611.00001v{version}",
        "comment": "12 pages",
        "source": "arxiv",
        **fields,
    }
    return PaperRecord(**values)


def test_an_api_copy_at_least_as_new_brings_its_text_authors_and_links():
    record = listing(version=1)
    merge_from_api(record, api(2))
    assert (record.version, record.title, record.abstract) == (
        2,
        "API title v2",
        "API abstract v2.",
    )
    assert record.authors[0]["affiliation"] == "Somewhere University"
    assert (record.primary_category, record.categories) == ("cs.LG", ["cs.LG", "stat.ML"])
    assert record.abs_url.endswith("v2") and record.comment == "12 pages"
    # What only the listing knows stays: its source, upvotes and page.
    assert (record.source, record.upvotes) == ("hf", 42)
    assert record.hf_url == "https://huggingface.co/papers/2611.00001"
    # The API's date is the first submission, which is what readers mean by "published".
    assert record.published_at == SUBMITTED


def test_a_lagging_api_copy_fills_categories_but_never_older_text():
    record = listing(version=3, title="Listing title v3")
    merge_from_api(record, api(2))
    assert (record.version, record.title) == (3, "Listing title v3")
    assert record.authors[0]["affiliation"] is None
    assert record.primary_category == "cs.LG"


def test_empty_api_fields_never_erase_what_the_listing_had():
    record = listing(version=1, categories=["cs.CV"], comment="listing comment")
    merge_from_api(record, api(1, authors=[], comment=None, primary_category=None, categories=[]))
    assert record.authors == [{"name": "A. Author", "affiliation": None}]
    assert record.comment == "listing comment"
    assert (record.primary_category, record.categories) == (None, ["cs.CV"])


def test_categories_merge_without_repeats_the_apis_order_first():
    record = listing(categories=["stat.ML", "cs.AI"])
    merge_from_api(record, api(1))
    assert record.categories == ["cs.LG", "stat.ML", "cs.AI"]


def test_a_withdrawal_on_either_side_sticks():
    record = listing(version=1)
    merge_from_api(record, api(2, withdrawn=True))
    assert record.withdrawn is True
    kept = listing(version=2, withdrawn=True)
    merge_from_api(kept, api(2, withdrawn=False))
    assert kept.withdrawn is True


def test_only_ids_the_database_cannot_complete_are_looked_up(db_url: str):
    with session_scope() as session:
        session.add_all(
            [
                Paper(arxiv_id="2611.00001", title="known", version=2, primary_category="cs.LG"),
                Paper(arxiv_id="2611.00002", title="older", version=1, primary_category="cs.CV"),
                Paper(arxiv_id="2611.00003", title="no category yet", version=1),
            ]
        )
    records = [
        listing(version=2, arxiv_id="2611.00001"),  # known at this version: skip
        listing(version=2, arxiv_id="2611.00002"),  # a newer version than stored: look up
        listing(version=1, arxiv_id="2611.00003"),  # stored, but without a category
        listing(version=1, arxiv_id="2611.00004"),  # never seen
        listing(version=1, arxiv_id="2611.00005", primary_category="cs.RO"),  # complete
    ]
    with session_scope() as session:
        assert sorted(ids_to_look_up(session, records)) == [
            "2611.00002",
            "2611.00003",
            "2611.00004",
        ]
