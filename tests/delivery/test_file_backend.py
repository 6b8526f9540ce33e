"""The file backend: what the embedded default and the demo write to the outbox."""

from __future__ import annotations

from pathlib import Path

from newsletter.delivery.base import OutgoingEmail
from newsletter.delivery.file import FileSender


def test_two_transactional_emails_to_one_address_are_both_kept(tmp_path: Path):
    sender = FileSender(tmp_path)
    for kind in ("confirm", "confirm", "welcome"):
        sender.send(
            OutgoingEmail(0, "ada@example.org", b"Subject: x\r\n\r\nbody", tags={"kind": kind})
        )
    names = sorted(p.name for p in tmp_path.glob("*.eml"))
    assert len(names) == 3
    assert sum(n.startswith("confirm-") for n in names) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_a_digest_is_named_by_its_delivery_and_writes_its_html_twin(tmp_path: Path):
    FileSender(tmp_path).send(
        OutgoingEmail(42, "a/b@example.org", b"Subject: x\r\n\r\nbody", html="<p>hi</p>")
    )
    assert (tmp_path / "000042-a_b@example.org.eml").read_bytes().startswith(b"Subject")
    assert (tmp_path / "000042-a_b@example.org.html").read_text() == "<p>hi</p>"
