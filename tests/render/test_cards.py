"""What each card and the digest around it say, on messy real-style papers."""

from __future__ import annotations

import re

import lxml.html

from newsletter.render.digest import EditionLabels
from newsletter.render.parts import EditionParts
from newsletter.render.signing import click_urls
from tests.render import factories
from tests.render.messy import messy_picks

KEY = "daily-2026-11-26"


def compose(picks=None, **reader):
    parts = EditionParts(EditionLabels.from_key(KEY))
    return parts.compose(factories.reader(pool=412, **reader), picks or messy_picks(), click_urls)


def test_the_text_part_wraps_at_72_columns_with_every_link_on_its_own_line():
    text = compose().text_str
    for line in text.splitlines():
        if "://" in line:
            assert re.fullmatch(r"\s*https?://\S+", line), line  # a link alone
        else:
            assert len(line) <= 72, line


def test_the_tldr_is_the_hugging_face_summary_or_the_key_sentence_never_the_background():
    html = compose().html_str
    leads = [p.text_content() for p in lxml.html.fromstring(html).xpath("//p[@class='lead']")]
    assert leads[0].startswith("TL;DR EntPT adapts CLIP at test time")
    assert leads[1].startswith("TL;DR We propose FlowOOD")
    assert "is crucial for deploying" not in html  # the background sentence
    # The full abstract is one click away, not in the email.
    assert leads[1].endswith("on ImageNet-O.") and "Existing methods" not in html


def test_a_paper_without_an_abstract_has_no_empty_tldr():
    document = lxml.html.fromstring(compose().html_str)
    titles = [t.text_content() for t in document.xpath("//h2[@class='title']")]
    leads = document.xpath("//p[@class='lead']")
    assert len(leads) == len(titles) - 1  # every card but the one without an abstract
    text = compose().text_str
    card = text[text.index("A paper with no abstract") : text.index("Σύνθεση")]
    assert "TL;DR" not in card


def test_the_subject_names_the_top_pick_and_how_many_follow():
    composed = compose()
    assert composed.subject.startswith("Test-Time Adaptation of Vision-Language Models")
    assert composed.subject.endswith("… +3 more")  # the two trending papers do not count


def test_the_intro_counts_the_picks_and_the_new_papers():
    html = compose().html_str
    assert "4 picks from 412 new papers today" in html
    assert "4 picks from 412 new papers today" in compose().text_str


def test_authors_are_cut_to_the_first_few_and_affiliations_shown_when_known():
    html = compose().html_str
    assert "Author0 Lastname0, Author1 Lastname1, Author2 Lastname2 and 37 more" in html
    assert "MIT, Google DeepMind and 1 more" in html


def test_pdf_code_and_hugging_face_are_visible_links():
    document = lxml.html.fromstring(compose().html_str)
    first = document.xpath("//p[@class='links']")[0]
    assert [a.text_content() for a in first.xpath("a")] == [
        "Abstract",
        "PDF",
        "Code",
        "Hugging\u00a0Face",
    ]


def test_the_internal_edition_key_is_never_shown_and_dates_read_one_way():
    composed = compose()
    for part in (composed.html_str, composed.text_str, composed.subject):
        assert KEY not in part and "daily-" not in part
    assert "Thu 26 Nov 2026" in composed.html_str
    assert "Fri 27 Nov 2026, 07:00 (Europe/London)" in composed.text_str
    weekly = EditionLabels.from_key("weekly-2026-W48")
    assert weekly.heading_date == "week 48 of 2026"
    assert EditionLabels.from_key("odd-key").heading_date == "this edition"


def test_no_two_cards_of_an_email_carry_the_same_reason():
    document = lxml.html.fromstring(compose().html_str)
    reasons = [p.text_content() for p in document.xpath("//p[@class='reason']")]
    assert len(reasons) == len(set(reasons)) == 6
