"""compose_delivery: a Delivery row and its reader become a finished OutgoingEmail."""

from __future__ import annotations

import email
from email import policy

from newsletter.db import session_scope
from newsletter.render.compose import compose_delivery
from tests.render.dbfactories import add_delivery, add_papers


def test_a_delivery_becomes_a_parsable_email_with_its_recorded_picks_in_order(db_url):
    with session_scope() as session:
        papers = add_papers(session, 6)
        subscriber, _, delivery = add_delivery(session, list(reversed(papers)))
        outgoing = compose_delivery(session, delivery, subscriber)
    assert outgoing.recipient == "ada@example.org"
    assert outgoing.tags["delivery"] == str(delivery.id)
    message = email.message_from_bytes(outgoing.raw, policy=policy.default)
    assert message["Subject"] == "Agents that notice when the world changes, part 6 +5 more"
    text = message.get_body(("plain",)).get_content()
    assert text.index("part 6") < text.index("part 1")
    assert "Why: matches 'agents' (0)" in text
    html = message.get_body(("html",)).get_content()
    assert html.replace("\r\n", "\n") == outgoing.html


def test_a_text_format_reader_gets_only_text_and_a_paper_gone_since_is_left_out(sqlite_url):
    with session_scope() as session:
        papers = add_papers(session, 3)
        subscriber, _, delivery = add_delivery(session, papers, fmt="text")
        delivery.papers = [*(delivery.papers or []), {"arxiv_id": "2411.99999", "reason": "x"}]
        outgoing = compose_delivery(session, delivery, subscriber)
    message = email.message_from_bytes(outgoing.raw, policy=policy.default)
    assert message.get_content_type() == "text/plain"
    assert outgoing.html is None
    body = message.get_content()
    assert "part 3" in body and "2411.99999" not in body
