"""Signed links in emails: the fast signer makes exactly the tokens the token module reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer

from newsletter.config import get_settings
from newsletter.render.signing import (
    FastSigner,
    click_urls,
    click_urls_of_papers,
    reader_links,
    serializer,
)
from newsletter.subscriptions import tokens
from newsletter.subscriptions.links import links_for
from tests.render import factories

NOW = datetime(2026, 11, 26, 7, 0, 5, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("purpose", sorted(tokens.MAX_AGE))
def test_fast_tokens_equal_the_token_modules_byte_for_byte(purpose):
    signer = FastSigner(serializer(get_settings().secret_key, purpose))
    extras = ["", "2411.00001|abs", "daily-2026-11-26", "jürgen@exämple.de", 'a "quoted" \\ ✓']
    for subscriber_id, generation in ((1, 0), (987654321, 12)):
        made = signer.tokens(subscriber_id, generation, extras)
        for extra, token in zip(extras, made, strict=True):
            assert token == tokens.make_token(purpose, subscriber_id, generation, extra)
            data = tokens.read_token(purpose, token)
            assert (data.subscriber_id, data.generation, data.extra) == (
                subscriber_id,
                generation,
                extra,
            )


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("edition_key", ["daily-2026-11-26", None])
def test_a_readers_links_are_the_links_modules(edition_key):
    assert reader_links(42, 3, edition_key) == links_for(42, 3, edition_key)


@time_machine.travel(NOW, tick=False)
def test_click_links_are_the_links_modules_one_paper_or_a_whole_email_at_a_time():
    reader = factories.reader(subscriber_id=42)
    papers = [pick.paper for pick in factories.picks(6)]
    expected = [factories.reference_click_urls(reader, paper) for paper in papers]
    assert [click_urls(reader, paper) for paper in papers] == expected
    assert click_urls_of_papers(reader, papers) == expected


def test_fast_tokens_follow_the_secret_key(monkeypatch):
    before = reader_links(5, 0, None).unsubscribe
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "another-secret")
    get_settings.cache_clear()
    after = reader_links(5, 0, None).unsubscribe
    assert before != after
    assert tokens.read_token("unsubscribe", after.rsplit("/", 1)[1]).subscriber_id == 5


class WrappedJSON:
    """A payload format the fast signer does not write: the list inside an object."""

    @staticmethod
    def dumps(obj: object) -> str:
        return json.dumps({"v": obj})

    @staticmethod
    def loads(text: str | bytes) -> object:
        return json.loads(text)["v"]


def test_a_fast_signer_refuses_to_start_if_its_tokens_would_not_read_back():
    changed = URLSafeTimedSerializer("secret", salt="newsletter.click", serializer=WrappedJSON)
    with pytest.raises(RuntimeError, match="do not read back"):
        FastSigner(changed)
