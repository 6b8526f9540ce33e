"""`newsletter subscribers import` and `export`: bad rows named, twice changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from newsletter.chain import plan
from newsletter.cli import cli
from newsletter.db import session_scope
from newsletter.models import (
    Delivery,
    MailState,
    Subscriber,
    SubscriberStatus,
    Suppression,
    TransactionalMail,
)
from newsletter.subscriptions.erasure import address_hash
from newsletter.subscriptions.importing import import_subscribers
from newsletter.subscriptions.service import preferences_of

GOOD_AND_BAD = """email,keywords,categories,description,timezone,hour,frequency
ada@example.org,"diffusion models; graph neural networks",cs.LG cs.CV,vision,Europe/Berlin,7,daily
not-an-address,diffusion,cs.LG,,UTC,7,daily
bo@example.org,,cs.CL,,Mars/Olympus,7,daily
cy@example.org,,cs.CL,,UTC,25,daily
di@example.org,,xx.YY,,UTC,7,daily
ADA@example.org,,cs.CL,,UTC,7,daily
eve@example.org,,stat.ML,,,,weekly
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["subscribers", *args])


def write(tmp_path: Path, text: str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(model: type) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported_once(db_url: str, tmp_path: Path):
    path = write(tmp_path, GOOD_AND_BAD)
    result = run("import", str(path), "--confirmed")
    assert result.exit_code == 1
    assert "line 3: not-an-address: invalid email address" in result.output
    assert "line 4: bo@example.org: unknown timezone 'Mars/Olympus'" in result.output
    assert "line 5: cy@example.org: invalid send hour 25" in result.output
    assert "line 6: di@example.org: invalid arXiv category 'xx.YY'" in result.output
    assert "line 7: ADA@example.org: the same address as line 2" in result.output
    assert "imported 2, 0 already subscribed" in result.output and "5 rows refused" in result.output
    assert "Traceback" not in result.output
    with session_scope() as session:
        ada = session.scalars(select(Subscriber).where(Subscriber.email == "ada@example.org")).one()
        prefs = preferences_of(ada)
        assert ada.status == SubscriberStatus.ACTIVE and ada.timezone == "Europe/Berlin"
        assert list(prefs.keywords) == ["diffusion models", "graph neural networks"]
        assert list(prefs.categories) == ["cs.LG", "cs.CV"]
        assert prefs.description == "vision"
        eve = session.scalars(select(Subscriber).where(Subscriber.email == "eve@example.org")).one()
        assert (eve.frequency, eve.timezone, eve.send_hour) == ("weekly", "UTC", 7)

    again = run("import", str(path), "--confirmed")
    assert "imported 0, 2 already subscribed (unchanged)" in again.output
    assert count(Subscriber) == 2


def test_a_dry_run_reports_the_same_and_changes_nothing(db_url: str, tmp_path: Path):
    result = run("import", str(write(tmp_path, GOOD_AND_BAD)), "--dry-run")
    assert "would import 2" in result.output and "line 3: not-an-address" in result.output
    assert count(Subscriber) == 0 and count(TransactionalMail) == 0


def test_unconfirmed_imports_get_one_confirmation_and_no_digest(sqlite_url: str, tmp_path: Path):
    path = write(tmp_path, "email,categories\nada@example.org,cs.LG\nbo@example.org,cs.CL\n")
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 confirmation emails queued" in result.output
    with session_scope() as session:
        assert set(session.scalars(select(Subscriber.status))) == {SubscriberStatus.PENDING}
        mails = session.scalars(select(TransactionalMail)).all()
        assert sorted(m.recipient for m in mails) == ["ada@example.org", "bo@example.org"]
        assert {(m.kind, m.state) for m in mails} == {("confirm", MailState.SENT)}
    assert run("import", str(path)).output.count("0 confirmation emails queued") == 1
    assert count(TransactionalMail) == 2
    # All due at their hour, but only the confirmed reader is planned a digest.
    run("import", str(write(tmp_path, "email\ncy@example.org\n", "b.csv")), "--confirmed")
    planned = plan(datetime(2026, 11, 26, 7, 5, tzinfo=UTC))
    with session_scope() as session:
        emails = session.scalars(
            select(Subscriber.email).join(Delivery).where(Delivery.id.in_(planned))
        ).all()
    assert emails == ["cy@example.org"]


def test_suppressed_and_erased_addresses_are_refused(db_url: str, tmp_path: Path):
    with session_scope() as session:
        session.add(Suppression(email="bounced@example.org", reason="bounce"))
        session.add(Suppression(email=address_hash("Erased@Example.org"), reason="manual"))
    path = write(tmp_path, "email\nbounced@example.org\nerased@example.org\nok@example.org\n")
    result = run("import", str(path), "--confirmed")
    assert "line 2: bounced@example.org: suppressed (bounce)" in result.output
    assert "line 3: erased@example.org: the reader asked to be erased" in result.output
    assert "imported 1," in result.output
    with session_scope() as session:
        assert list(session.scalars(select(Subscriber.email))) == ["ok@example.org"]


def test_listmonk_and_substack_exports_are_told_by_their_header(sqlite_url: str):
    listmonk = (
        "uuid,email,name,attributes,status,created_at,updated_at\n"
        '1b2,ada@example.org,Ada,"{""keywords"": [""diffusion""], ""categories"": ""cs.LG""}",'
        "enabled,2024-01-01,2024-01-01\n"
        "3c4,spam@example.org,Spam,{},blocklisted,2024-01-01,2024-01-01\n"
    )
    report = import_subscribers(listmonk, confirmed=True)
    assert (report.format, report.imported, report.skipped) == ("listmonk", 1, 1)
    substack = (
        "email,active_subscription,expiry,plan,email_disabled,created_at\n"
        "bo@example.org,false,,free,false,2024-01-01\n"
        "quiet@example.org,false,,free,true,2024-01-01\n"
    )
    report = import_subscribers(substack, confirmed=True)
    assert (report.format, report.imported, report.skipped) == ("substack", 1, 1)
    with session_scope() as session:
        ada = session.scalars(select(Subscriber).where(Subscriber.email == "ada@example.org")).one()
        assert list(preferences_of(ada).keywords) == ["diffusion"]


def test_a_file_without_an_email_column_is_refused_in_one_line(sqlite_url: str, tmp_path: Path):
    result = run("import", str(write(tmp_path, "address,name\nada@example.org,Ada\n")))
    assert result.exit_code == 1
    assert "header with an email column (found: address, name)" in result.output
    assert "Traceback" not in result.output


def test_an_export_imports_back_elsewhere_unchanged(tmp_path: Path, monkeypatch):
    source = write(
        tmp_path,
        "email,status,keywords,negative_keywords,categories,description,seed_papers,"
        "timezone,hour,frequency,weekday,max_papers,format\n"
        'ada@example.org,active,"diffusion; test-time adaptation",crypto,cs.LG; cs.CV,'
        "vision at scale,1706.03762,Europe/Berlin,6,weekly,2,5,text\n"
        "bo@example.org,pending,,,stat.ML,,,UTC,7,daily,0,10,html\n",
    )
    assert run("import", str(source), "--confirmed").exit_code == 0
    first = run("export").output
    as_json = json.loads(run("export", "--format", "json").output)
    assert [r["email"] for r in as_json] == ["ada@example.org", "bo@example.org"]
    assert as_json[0]["keywords"] == ["diffusion", "test-time adaptation"]
    assert as_json[0]["status"] == "active" and as_json[1]["status"] == "pending"

    exported = write(tmp_path, first, "exported.csv")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    from tests.conftest import _reset_process_state

    _reset_process_state()
    assert run("import", str(exported), "--confirmed").exit_code == 0
    second = run("export").output

    def stable(text: str) -> list[list[str]]:
        # created_at and confirmed_at are the new list's own.
        return [line.split(",")[:-2] for line in text.splitlines()]

    assert stable(second) == stable(first)


def test_a_line_csv_cannot_read_is_named_without_a_traceback(sqlite_url: str, tmp_path: Path):
    # A cell over csv's field limit (a binary file, a broken export).
    path = write(tmp_path, "email\nada@example.org\n" + "x" * 200_000 + "\n")
    result = run("import", str(path), "--confirmed")
    assert result.exit_code == 1
    assert "line 3: not readable as CSV (field larger than field limit" in result.output
    assert "Traceback" not in result.output
    assert count(Subscriber) == 1  # the rows before it were handled


def test_a_reader_who_deleted_themselves_is_not_imported_again(db_url: str, tmp_path: Path):
    from newsletter.subscriptions.erasure import erase_subscriber

    path = write(tmp_path, "email,categories\nAda@Example.org,cs.LG\n")
    assert run("import", str(path), "--confirmed").exit_code == 0
    with session_scope() as session:
        ada = session.scalars(select(Subscriber)).one()
        erase_subscriber(session, ada.id)
    result = run("import", str(path), "--confirmed")
    assert result.exit_code == 1
    assert "line 2: ada@example.org: the reader asked to be erased" in result.output
    assert count(Subscriber) == 0
