"""`newsletter preview`: a reader's digest written to files, nothing sent."""

from __future__ import annotations

import email
from email import policy

from click.testing import CliRunner
from sqlalchemy import func, select

from newsletter.cli import cli
from newsletter.db import session_scope, upgrade
from newsletter.models import Delivery, Edition
from tests.render.dbfactories import add_delivery, add_papers


def test_preview_writes_the_recorded_digest_as_html_text_and_eml(tmp_path, sqlite_url):
    with session_scope() as session:
        add_delivery(session, add_papers(session, 3))
    out = tmp_path / "previews"
    result = CliRunner().invoke(
        cli, ["preview", "--subscriber", "Ada@Example.org", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "daily-2026-11-26: 3 papers, recorded picks" in result.output
    html = (out / "daily-2026-11-26-ada@example.org.html").read_text()
    text = (out / "daily-2026-11-26-ada@example.org.txt").read_text()
    raw = (out / "daily-2026-11-26-ada@example.org.eml").read_bytes()
    assert "part 3" in html and "part 3" in text
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["To"] == "ada@example.org"


def test_preview_ranks_now_when_no_digest_was_recorded_and_opens_nothing(tmp_path, sqlite_url):
    with session_scope() as session:
        _, edition, delivery = add_delivery(session, add_papers(session, 5))
        session.delete(delivery)
    result = CliRunner().invoke(
        cli,
        [
            "preview",
            "--subscriber",
            "ada@example.org",
            "--edition",
            str(edition.id),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ranked now" in result.output
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(func.count()).select_from(Edition)) == 1


def test_preview_of_an_unknown_reader_or_edition_is_one_clear_line(tmp_path):
    upgrade()
    result = CliRunner().invoke(cli, ["preview", "--subscriber", "nobody@example.org"])
    assert result.exit_code != 0
    assert "no subscriber with the address 'nobody@example.org'" in result.output
    assert "Traceback" not in result.output
    with session_scope() as session:
        add_delivery(session, add_papers(session, 1))
    result = CliRunner().invoke(
        cli, ["preview", "--subscriber", "ada@example.org", "--edition", "daily-1999-01-01"]
    )
    assert result.exit_code != 0
    assert "no edition 'daily-1999-01-01'" in result.output
