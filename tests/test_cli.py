"""The `newsletter` command as operators and scripts use it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from newsletter.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("db", "subscribers", "send-due", "demo"):
        assert name in result.output


@pytest.mark.parametrize("path", list(all_commands(cli)), ids=" ".join)
def test_every_command_has_help(path):
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_db_upgrade_creates_the_schema_on_a_fresh_database(tmp_path, monkeypatch):
    result = run("db", "upgrade")
    assert result.exit_code == 0
    assert (tmp_path / "test.db").exists()


def test_add_then_list_as_json_on_a_fresh_database():
    added = run(
        "subscribers",
        "add",
        "Ada@Example.org",
        "--keyword",
        "graph neural networks",
        "--keyword",
        "sparsity",
        "--category",
        "cs.LG",
        "--description",
        "GNN theory",
        "--timezone",
        "Europe/London",
        "--hour",
        "8",
        "--frequency",
        "weekly",
        "--confirmed",
    )
    assert added.exit_code == 0, added.output
    listed = run("subscribers", "list", "--json")
    assert listed.exit_code == 0
    [row] = json.loads(listed.output)
    assert row["email"] == "ada@example.org"
    assert row["status"] == "active"
    assert row["keywords"] == ["graph neural networks", "sparsity"]
    assert row["categories"] == ["cs.LG"]
    assert row["description"] == "GNN theory"
    assert (row["timezone"], row["hour"], row["frequency"]) == ("Europe/London", 8, "weekly")


def test_without_confirmed_a_subscriber_stays_pending():
    run("subscribers", "add", "b@example.org")
    [row] = json.loads(run("subscribers", "list", "--json").output)
    assert row["status"] == "pending"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email"], "invalid email address"),
        (["c@example.org", "--timezone", "Mars/Olympus"], "unknown timezone"),
        (["c@example.org", "--hour", "24"], "invalid send hour"),
        (["c@example.org", "--category", "cs LG!"], "invalid arXiv category"),
    ],
)
def test_bad_input_is_refused_with_one_line_and_a_non_zero_exit(args, message):
    result = CliRunner().invoke(cli, ["subscribers", "add", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_second_add_of_the_same_address_is_refused():
    run("subscribers", "add", "d@example.org")
    result = CliRunner().invoke(cli, ["subscribers", "add", "D@example.org"])
    assert result.exit_code != 0
    assert "already subscribed" in result.output


def test_the_console_script_is_installed_and_answers(tmp_path):
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "newsletter"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert "subscribers" in result.stdout


def test_an_unreachable_database_is_reported_in_one_line(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    from newsletter.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["subscribers", "list"])
    assert result.exit_code != 0
    assert "cannot reach the database" in result.output
