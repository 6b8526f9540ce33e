"""The digest as a reader's mail client receives it: MIME, headers, parts, size, escaping."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import lxml.html
import pytest
import time_machine

from newsletter.config import get_settings
from newsletter.render.compose import message_bytes
from newsletter.render.digest import (
    HTML_LIMIT,
    EditionLabels,
    RenderedEmail,
    render_digest,
)
from newsletter.render.mime import build_message
from newsletter.render.parts import EditionParts, edition_parts
from newsletter.render.signing import click_urls
from newsletter.subscriptions.links import SubscriberLinks
from newsletter.subscriptions.tokens import read_token
from tests.render import factories

KEY = "daily-2026-11-26"
NOW = datetime(2026, 11, 26, 7, 0, 5, tzinfo=UTC)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def fresh_parts() -> EditionParts:
    return EditionParts(EditionLabels.from_key(KEY))


def test_a_digest_parses_back_with_every_header_and_both_parts(monkeypatch):
    monkeypatch.setenv("NEWSLETTER_REPLY_TO", "Editors <editors@papers.example.com>")
    get_settings.cache_clear()
    reader = factories.reader()
    picks = factories.picks(10)
    composed = fresh_parts().compose(reader, picks, click_urls)
    message = parse(message_bytes(composed, reader))

    assert message["From"] == "Trending Papers <digest@papers.example.com>"
    assert message["Reply-To"] == "Editors <editors@papers.example.com>"
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Agents that notice when the world changes, part 1 +9 more"
    assert re.fullmatch(r"<[^<>@\s]+@papers\.example\.com>", message["Message-ID"])
    assert message["Date"].datetime.tzinfo is not None
    assert message["List-Id"] == "Trending papers <trending-papers.example.com>"
    https, mailto = (u.strip().strip("<>") for u in message["List-Unsubscribe"].split(","))
    assert https == reader.unsubscribe_url and https.startswith("https://papers.test/unsubscribe/")
    assert mailto == reader.unsubscribe_mailto and mailto.startswith("mailto:digest@")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["MIME-Version"] == "1.0"

    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert text_part.get_content_type() == "text/plain"  # text first: clients pick the last
    assert html_part.get_content_type() == "text/html"
    for part in (text_part, html_part):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert lf(text_part.get_content()) == composed.text_str
    assert lf(html_part.get_content()) == composed.html_str
    assert "Agents that notice when the world changes, part 10" in composed.text_str


def test_the_fast_mime_reads_back_like_the_standard_librarys_message():
    reader = factories.reader()
    picks = factories.picks(10, title="Über-schnelle Modelle — “quoted” & <escaped> ✓")
    composed = fresh_parts().compose(reader, picks, click_urls)
    ours = parse(message_bytes(composed, reader))
    links = SubscriberLinks(
        preferences=reader.preferences_url,
        unsubscribe=reader.unsubscribe_url,
        unsubscribe_mailto=reader.unsubscribe_mailto,
        view=reader.view_url,
    )
    rendered = RenderedEmail(composed.subject, composed.html_str, composed.text_str)
    stdlib = parse(build_message(rendered, reader.email, links).as_bytes())

    assert sorted(ours.keys()) == sorted(stdlib.keys())
    for name in ours:
        if name not in {"Date", "Message-ID", "Content-Type"}:
            assert str(ours[name]) == str(stdlib[name]), name
    assert ours["Subject"] == composed.subject  # RFC 2047 round trip of non-ASCII
    assert ours.get_content_type() == stdlib.get_content_type()
    for mine, theirs in zip(ours.iter_parts(), stdlib.iter_parts(), strict=True):
        assert mine.get_content_type() == theirs.get_content_type()
        assert lf(mine.get_content()) == lf(theirs.get_content())


def test_quoted_printable_lines_stay_within_76_characters():
    reader = factories.reader()
    picks = factories.picks(12, abstract="é" * 3000 + ". " + "x" * 500)
    raw = message_bytes(fresh_parts().compose(reader, picks, click_urls), reader)
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_text_format_readers_get_a_text_only_message():
    reader = factories.reader()
    composed = fresh_parts().compose(reader, factories.picks(5), click_urls, with_html=False)
    message = parse(message_bytes(composed, reader, html=False))
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert lf(message.get_content()) == composed.text_str
    assert "Agents that notice when the world changes, part 5" in message.get_content()


@time_machine.travel(NOW, tick=False)
def test_the_cached_path_gives_the_same_bytes_as_rendering_each_email_from_scratch():
    labels = EditionLabels.from_key(KEY)
    parts = fresh_parts()
    for number, reader in enumerate(
        [factories.reader(7), factories.reader(8, "b@example.org", next_due=None)]
    ):
        picks = factories.picks(3 + 4 * number)
        composed = parts.compose(reader, picks, click_urls)
        scratch = render_digest(labels, reader, picks, factories.reference_click_urls)
        assert composed.html_str == scratch.html
        assert composed.text_str == scratch.text
        assert composed.subject == scratch.subject


def test_premailer_runs_once_per_shell_and_card_batch_not_once_per_email():
    parts = fresh_parts()
    picks = factories.picks(10)
    parts.compose(factories.reader(0), picks, click_urls)
    for subscriber_id in range(1, 50):
        parts.compose(factories.reader(subscriber_id), picks[subscriber_id % 3 :], click_urls)
    # One shell variant and one batch of cards (later readers' cards are all cached).
    assert parts.premailer_runs == 2


def test_every_link_is_signed_for_its_reader_and_reads_back():
    reader = factories.reader(subscriber_id=77, edition_key=KEY)
    picks = factories.picks(4)
    html = fresh_parts().compose(reader, picks, click_urls).html_str
    hrefs = lxml.html.fromstring(html).xpath("//a/@href")
    clicks = {read_token("click", h.rsplit("/", 1)[1]).extra for h in hrefs if "/c/" in h}
    assert "2411.00001|abs" in clicks and "2411.00001|pdf" in clicks
    assert "2411.00001|hf" in clicks and "2411.00002|hf" not in clicks  # only known links
    assert "2411.00003|code" in clicks
    for href in hrefs:
        assert href.startswith("https://papers.test/"), href  # every link goes through us
    view = read_token("view", reader.view_url.rsplit("/", 1)[1])
    assert (view.subscriber_id, view.extra) == (77, KEY)
    assert read_token("unsubscribe", reader.unsubscribe_url.rsplit("/", 1)[1]).subscriber_id == 77
    assert read_token("preferences", reader.preferences_url.rsplit("/", 1)[1]).generation == 0


def test_titles_authors_and_reasons_from_sources_arrive_as_text():
    attack = "<img src=x onerror=alert(1)>"
    reader = factories.reader(email="ada@example.org")
    picks = [
        factories.Card(
            factories.paper(1, title=attack, authors=(attack,), abstract=attack),
            reason=f'matches "{attack}"',
        ),
    ]
    composed = fresh_parts().compose(reader, picks, click_urls)
    document = lxml.html.fromstring(composed.html_str)
    assert not document.xpath("//*[@onerror]")
    assert all(img.get("src", "").startswith("https://") for img in document.xpath("//img"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in composed.html_str
    assert attack in document.text_content()
    assert attack in composed.text_str  # the text part shows it as written
    assert attack in composed.subject


def test_a_digest_of_huge_abstracts_and_many_papers_stays_under_the_gmail_clip_limit():
    reader = factories.reader()
    huge = "word " * 20_000  # 100 KB, no sentence ends
    picks = factories.picks(50, abstract=huge, title="T" * 5000, authors=("A" * 3000,) * 40)
    composed = fresh_parts().compose(reader, picks, click_urls)
    size = len(composed.html_str.encode("utf-8"))
    assert size == composed.html_size <= HTML_LIMIT < 102 * 1024
    assert 0 < composed.shown < 50 and composed.level == 1
    more = 50 - composed.shown
    assert f"{more} more papers picked for you did not fit" in composed.html_str
    document = lxml.html.fromstring(composed.html_str)
    assert document.xpath("//td[@class='more']//a/@href") == [reader.view_url]
    assert f"{more} more papers picked for you" in composed.text_str
    # The web view has no mail-client limit: every pick.
    full = fresh_parts().compose(reader, picks, click_urls, limit=None)
    assert full.shown == 50


def test_abstracts_are_shortened_before_any_paper_is_dropped():
    reader = factories.reader()
    picks = factories.picks(20, ai_summary="We summarise the paper at length. " * 9)
    normal = fresh_parts().compose(reader, picks, click_urls, limit=None)
    limit = normal.html_size - 2000  # too big by a little: shorter abstracts are enough
    trimmed = fresh_parts().compose(reader, picks, click_urls, limit=limit)
    assert (trimmed.level, trimmed.shown) == (1, 20)
    assert trimmed.html_size <= limit
    assert "did not fit" not in trimmed.html_str
    tight = fresh_parts().compose(reader, picks, click_urls, limit=normal.html_size // 2)
    assert (tight.level, tight.total) == (1, 20) and 0 < tight.shown < 20
    assert tight.html_size <= normal.html_size // 2


def test_inlined_html_keeps_media_queries_and_their_important_flags():
    html = fresh_parts().compose(factories.reader(), factories.picks(4), click_urls).html_str
    document = lxml.html.fromstring(html)
    style = "".join(document.xpath("//style/text()"))
    assert "@media only screen and (max-width: 620px)" in style
    assert "@media (prefers-color-scheme: dark)" in style
    assert re.search(r"\.container \{\s*width: 100% !important", style)
    assert re.search(r"background-color: #18181b !important", style)
    # Everything else is inline: outside the @media blocks no rule is left.
    assert re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}", "", style).strip() == ""
    container = document.xpath("//table[contains(@class,'container')]")[0]
    assert "width:600px" in container.get("style").replace(" ", "")
    assert not document.xpath("//link|//script")
    # Thumbnails are box backgrounds, not <img>: blocked, they leave no broken-image box.
    assert not document.xpath("//img")
    thumbs = document.xpath("//div[@class='thumb']")
    assert thumbs  # paper 4 has a thumbnail
    for thumb in thumbs:
        style = thumb.get("style").replace(" ", "")
        assert "width:120px" in style and "height:63px" in style
        assert "background-image:url(https://cdn-thumbnails.huggingface.co/" in style
    preheader = document.xpath("//div[@class='preheader']")[0]
    assert "display:none" in preheader.get("style")
    assert "4 papers picked for you" in preheader.text_content()


@pytest.mark.parametrize("name", ["confirm", "welcome", "goodbye", "links"])
def test_transactional_emails_are_inlined_and_have_a_text_twin(name):
    from newsletter.render.transactional import render_transactional

    context = {
        "email": "a@example.org",
        "confirm_url": "https://papers.test/confirm/T",
        "preferences_url": "https://papers.test/preferences/P",
        "unsubscribe_url": "https://papers.test/unsubscribe/U",
        "next_due": "Friday 27 November, 07:00 UTC",
        "resubscribe_url": "https://papers.test/",
    }
    rendered = render_transactional(name, context)
    document = lxml.html.fromstring(rendered.html)
    assert document.xpath("//h1[@style]")
    assert "@media" in "".join(document.xpath("//style/text()"))
    assert "a@example.org" in rendered.text and "a@example.org" in rendered.html


def test_the_edition_cache_is_per_edition():
    assert edition_parts(KEY) is edition_parts(KEY)
    assert edition_parts("weekly-2026-W48") is not edition_parts(KEY)
    assert edition_parts("weekly-2026-W48").labels.subject_date == "week 48 of 2026"


def test_a_reader_with_an_uncached_paper_inlines_the_next_candidates_too():
    parts = fresh_parts()
    candidates = [factories.paper(n) for n in range(1, 301)]

    def load(start: int, count: int) -> list:
        return candidates[start : start + count]

    first = [factories.Card(p, "r") for p in candidates[:10]]
    parts.ensure(first, load)
    runs = parts.premailer_runs
    for offset in range(10, 200, 10):  # every later reader's picks were inlined ahead
        parts.ensure([factories.Card(p, "r") for p in candidates[offset : offset + 10]], load)
    assert parts.premailer_runs == runs == 1
    parts.ensure([factories.Card(candidates[250], "r")], load)  # past the first batch
    assert parts.premailer_runs == 2


def test_an_internationalised_address_and_a_long_unicode_subject_survive_the_headers():
    reader = factories.reader(email="jürgen@exämple.de")
    picks = factories.picks(2, title="Σύνθεση " * 30)
    composed = fresh_parts().compose(reader, picks, click_urls)
    raw = message_bytes(composed, reader)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    message = parse(raw)
    assert message["To"] == "jürgen@exämple.de"
    assert message["Subject"] == composed.subject
    assert composed.subject.endswith("… +1 more")


@pytest.mark.parametrize("name", ["confirm", "welcome", "links"])
def test_outlook_gets_its_settings_and_a_button_on_a_coloured_cell(name):
    """Outlook (Word) ignores padding on links and guesses fonts and DPI without help."""
    from newsletter.render.transactional import render_transactional

    context = {
        "email": "a@example.org",
        "confirm_url": "https://papers.test/confirm/T",
        "preferences_url": "https://papers.test/preferences/P",
        "unsubscribe_url": "https://papers.test/unsubscribe/U",
        "next_due": "Friday 27 November, 07:00 UTC",
    }
    html = render_transactional(name, context).html
    assert "<!--[if mso]>" in html and "<o:PixelsPerInch>96</o:PixelsPerInch>" in html
    document = lxml.html.fromstring(html)
    [cell] = document.xpath("//td[@class='button-cell']")
    assert cell.get("bgcolor") == "#4f46e5" and "background-color" in cell.get("style")
    [link] = cell.xpath("./a")
    assert link.get("href").startswith("https://papers.test/") and "padding" in link.get("style")


def test_the_digest_carries_the_outlook_settings_too():
    html = fresh_parts().compose(factories.reader(), factories.picks(2), click_urls).html_str
    assert "<!--[if mso]>" in html and 'xmlns:o="urn:schemas-microsoft-com:office:office"' in html
