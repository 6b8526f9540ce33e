"""Each source's parser on recorded-format responses: fields, clean text, bad entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsletter.ingest import arxiv_api, arxiv_rss, hf_daily, oai_pmh
from newsletter.ingest.normalise import MalformedDocument, clean_text, split_author_names
from tests.ingest.server import fixture


def by_id(records):
    return {r.arxiv_id: r for r in records}


def test_the_api_gives_version_affiliations_primary_category_and_extension_fields():
    page = arxiv_api.parse(fixture("arxiv_api_page1.xml"))
    assert page.total == 3 and page.problems == []
    paper = by_id(page.records)["2611.00001"]
    assert paper.version == 1
    assert paper.primary_category == "cs.LG"
    assert paper.categories == ["cs.LG", "cs.AI", "stat.ML"]
    assert paper.authors[1] == {
        "name": "Alan Turing",
        "affiliation": "University of Manchester; Bletchley Park",
    }
    assert paper.authors[2] == {"name": "Grace Hopper", "affiliation": None}
    assert paper.comment.startswith("12 pages")
    assert paper.published_at == datetime(2026, 11, 23, 17, 59, 1, tzinfo=UTC)
    assert paper.abs_url == "https://arxiv.org/abs/2611.00001v1"
    other = by_id(page.records)["2611.00003"]
    assert other.doi == "10.1000/tabular.2026.3"
    assert other.journal_ref == "J. Tabular Learn. 3, 14 (2026)"


def test_latex_and_hard_wraps_become_readable_text_and_the_raw_text_is_kept():
    paper = by_id(arxiv_api.parse(fixture("arxiv_api_page1.xml")).records)["2611.00001"]
    assert paper.title == "Learning at O(1/n) Rates with Sparse Experts"
    assert "α-smooth" in paper.abstract and "collabvoyager" in paper.abstract
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert r"\mathcal{O}(1/n)" in paper.title_raw and "\n" in paper.abstract_raw


def test_a_missing_pdf_link_falls_back_to_the_url_pattern():
    paper = by_id(arxiv_api.parse(fixture("arxiv_api_page1.xml")).records)["2611.00003"]
    assert paper.pdf_url == "https://arxiv.org/pdf/2611.00003v2"


def test_an_api_entry_missing_its_abstract_is_reported_with_its_id():
    page = arxiv_api.parse(fixture("arxiv_api_page2.xml"))
    assert page.records == []
    assert page.problems == [{"id": "2611.00006v1", "error": "missing abstract"}]


def test_the_api_error_entry_is_an_error_not_a_paper():
    with pytest.raises(arxiv_api.ArxivApiError, match="incorrect id format"):
        arxiv_api.parse(fixture("arxiv_api_error.xml"))


def test_a_withdrawn_paper_is_flagged():
    records = by_id(arxiv_api.parse(fixture("arxiv_api_reversioned.xml")).records)
    assert records["2611.00004"].withdrawn is True
    assert records["2611.00003"].withdrawn is False


@pytest.mark.parametrize(
    "data",
    [b"", b"<feed", b"not xml at all", b'<?xml version="1.0"?><html><body/></html>'],
)
def test_a_malformed_api_document_is_rejected_whole(data: bytes):
    with pytest.raises(MalformedDocument):
        arxiv_api.parse(data)


def test_the_listing_feed_gives_announce_versions_split_authors_and_plain_text():
    parsed = arxiv_rss.parse(fixture("arxiv_rss_cs.xml"))
    records = by_id(parsed.records)
    assert set(records) == {"2611.00001", "2611.00002", "2611.00003", "2611.00004"}
    first = records["2611.00001"]
    assert [a["name"] for a in first.authors] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert first.primary_category is None  # the feed has none: the API fills it
    assert first.categories == ["cs.LG", "cs.AI"]
    assert first.abstract.startswith("We show that sparse mixtures")
    assert "Announce Type" not in first.abstract
    assert records["2611.00003"].version == 2
    assert records["2611.00004"].version == 3 and records["2611.00004"].withdrawn
    # Markup in the description is reduced to text; "x < y" stays a comparison.
    assert records["2611.00003"].abstract.endswith("ten times more data & compute, where x < y.")
    assert "<" not in records["2611.00003"].abstract.replace("x < y", "")


def test_a_listing_entry_without_a_title_is_reported_and_duplicates_are_kept_for_the_store():
    parsed = arxiv_rss.parse(fixture("arxiv_rss_cs.xml"))
    assert parsed.problems == [{"id": "2611.00005v1", "error": "missing title"}]
    assert [r.arxiv_id for r in parsed.records].count("2611.00001") == 2


def test_the_atom_flavour_of_the_listing_reads_the_same():
    records = by_id(arxiv_rss.parse(fixture("arxiv_atom_cs.xml")).records)
    assert records["2611.00008"].version == 2
    assert [a["name"] for a in records["2611.00002"].authors] == ["Noam Chomsky", "Barbara Liskov"]


def test_an_empty_weekend_listing_is_not_an_error():
    parsed = arxiv_rss.parse(fixture("arxiv_rss_empty.xml"))
    assert parsed.records == [] and parsed.problems == []


def test_a_truncated_listing_is_rejected_whole():
    with pytest.raises(MalformedDocument, match="not well-formed"):
        arxiv_rss.parse(fixture("arxiv_rss_truncated.xml"))


def test_hugging_face_gives_trending_counts_and_code_links():
    parsed = hf_daily.parse(fixture("hf_daily.json"))
    records = by_id(parsed.records)
    paper = records["2611.00001"]
    assert (paper.upvotes, paper.num_comments) == (42, 7)
    assert paper.code_url == "https://github.com/example/sparse-experts"
    assert paper.project_url == "https://sparse-experts.example.org"
    assert paper.hf_url == "https://huggingface.co/papers/2611.00001"
    assert paper.thumbnail_url.endswith("2611.00001.png")
    assert paper.version == 0  # Hugging Face does not say which version
    assert parsed.problems == [{"id": "?", "error": "paper has no id"}]


def test_hugging_face_gives_its_summary_keywords_and_stars_for_the_cards():
    records = by_id(hf_daily.parse(fixture("hf_daily.json")).records)
    paper = records["2611.00001"]
    assert paper.ai_summary == "Sparse experts learn fast."
    assert paper.ai_keywords == ["mixture of experts", "router"]
    assert paper.github_stars == 310
    bare = records["2611.00007"]  # none given: unknown, not zero
    assert (bare.ai_summary, bare.ai_keywords, bare.github_stars) == (None, [], None)


def test_html_from_hugging_face_never_reaches_the_stored_text():
    paper = by_id(hf_daily.parse(fixture("hf_daily.json")).records)["2611.00007"]
    assert paper.title == "World Models from Video Alone"
    assert "<" not in paper.abstract and "world models" in paper.abstract


@pytest.mark.parametrize("data", [fixture("hf_daily_malformed.json"), b'{"error": "x"}', b""])
def test_malformed_hugging_face_json_is_rejected_whole(data: bytes):
    with pytest.raises(MalformedDocument):
        hf_daily.parse(data)


def test_oai_pages_give_versions_dates_and_the_resumption_token():
    first = oai_pmh.parse(fixture("oai_page1.xml"))
    assert first.next_token == "6204812|1001"
    records = by_id(first.records)
    assert records["2611.00009"].version == 2
    assert records["2611.00009"].published_at == datetime(2026, 11, 17, 9, tzinfo=UTC)
    assert records["2611.00009"].updated_at == datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    assert records["2611.00009"].primary_category == "cs.LG"
    assert records["2611.00001"].title == "Learning at O(1/n) Rates with Sparse Experts"


def test_the_last_oai_page_ends_the_list_and_reports_deleted_and_withdrawn_records():
    last = oai_pmh.parse(fixture("oai_page2.xml"))
    assert last.next_token is None
    assert last.problems == [{"id": "2611.00010", "error": "deleted record"}]
    assert last.records[0].withdrawn is True and last.records[0].version == 3


def test_the_arxiv_oai_format_carries_affiliations():
    record = oai_pmh.parse(fixture("oai_arxiv_format.xml")).records[0]
    assert record.authors[0] == {
        "name": "Edsger W. Dijkstra",
        "affiliation": "Eindhoven University of Technology",
    }


def test_no_records_is_an_empty_answer_and_other_oai_errors_are_errors():
    assert oai_pmh.parse(fixture("oai_no_records.xml")).records == []
    with pytest.raises(oai_pmh.OaiError, match="badResumptionToken"):
        oai_pmh.parse(fixture("oai_bad_token.xml"))


@pytest.mark.parametrize(
    ("category", "spec"),
    [
        ("cs.LG", "cs:cs:LG"),
        ("stat.ML", "stat:stat:ML"),
        ("hep-th", "physics:hep-th"),
        ("astro-ph.GA", "physics:astro-ph:GA"),
        ("math", "math"),
        ("cs:cs:AI", "cs:cs:AI"),
    ],
)
def test_categories_map_to_oai_sets(category: str, spec: str):
    assert oai_pmh.set_spec(category) == spec


def test_one_comma_joined_creator_splits_into_names():
    assert split_author_names("A. Smith, B. Jones, and C. White") == [
        "A. Smith",
        "B. Jones",
        "C. White",
    ]


def test_unknown_macros_keep_their_name():
    assert clean_text(r"We present \collabvoyager, which uses $\alpha$") == (
        "We present collabvoyager, which uses α"
    )
