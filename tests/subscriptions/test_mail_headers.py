"""Every kind of email, parsed back with the standard library: links and addresses readable.

The standard library's folding turns a long List-Unsubscribe into RFC 2047 encoded-words
(`=?utf-8?q?=3Chttps...`), which no mail client reads as a link, and a non-ASCII
address into encoded-words, which is not an address at all. Both must go out as text.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter.subscriptions.service import Preferences
from newsletter.subscriptions.signup import (
    confirm,
    request_email_change,
    request_signup,
    unsubscribe_by_token,
)
from newsletter.subscriptions.tokens import make_token
from newsletter.timeutil import utcnow
from tests.subscriptions.factories import link_in, outbox_messages

PREFS = Preferences(keywords=["diffusion"], timezone="Europe/Berlin")


def header_block(path: Path) -> bytes:
    return path.read_bytes().split(b"\r\n\r\n", 1)[0]


def every_transactional_email(address: str, new_address: str, outbox: Path) -> list[Path]:
    """Sign up, confirm, change address, unsubscribe; return the .eml files, oldest first."""
    result = request_signup(address, PREFS)
    assert result.subscriber_id is not None
    confirm(link_in(outbox_messages(outbox)[-1], "confirm").rsplit("/", 1)[1])
    preferences = make_token("preferences", result.subscriber_id, 0)
    # Later than the signup form's resend interval, which the change form shares.
    request_email_change(preferences, new_address, now=utcnow() + timedelta(hours=1))
    unsubscribe_by_token(make_token("unsubscribe", result.subscriber_id, 0))
    return sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)


@pytest.mark.parametrize(
    ("address", "new_address"),
    [
        ("ada@example.org", "ada.lovelace@example.org"),
        ("josé@exämple.org", "zoë@exämple.org"),
    ],
)
def test_every_transactional_email_has_readable_list_unsubscribe_and_to_headers(
    isolated_settings: Path, address: str, new_address: str
):
    paths = every_transactional_email(address, new_address, isolated_settings)
    kinds = sorted(p.name.split("-", 1)[0] for p in paths)
    assert kinds == ["change", "confirm", "goodbye", "welcome"]
    for path in paths:
        headers = header_block(path)
        assert b"=?" not in headers, f"{path.name} has encoded-words:\n{headers.decode()}"
        # UTF-8 headers (SMTPUTF8) are read as text; the byte parser would escape them.
        raw = path.read_bytes().decode("utf-8")
        message = email.message_from_string(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        [to] = message["To"].addresses
        assert to.addr_spec in (address, new_address)
        if message["List-Unsubscribe"] is not None:
            links = [link.strip() for link in str(message["List-Unsubscribe"]).split(",")]
            assert links[0].startswith("<https://papers.test/unsubscribe/")
            assert links[1].startswith("<mailto:digest@papers.example.com?subject=unsubscribe")
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # Every header line stays within RFC 5322's limit, folded like the digest's.
        assert all(len(line) <= 998 for line in headers.split(b"\r\n"))
