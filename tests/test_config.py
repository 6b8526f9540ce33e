"""Settings come from the environment and bad values stop start-up with a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.config import ConfigError, load_settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("NEWSLETTER_MAIL_BACKEND")
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.mail_backend == "file"
    assert settings.embedded is True


def test_the_documented_variable_names_are_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example.com/news")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("NEWSLETTER_MAIL_BACKEND", "ses")
    monkeypatch.setenv("NEWSLETTER_OUTBOX", "/tmp/out")
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://papers.example.com/")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "s3cret")
    monkeypatch.setenv("NEWSLETTER_FROM", "Digest <d@example.com>")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("NEWSLETTER_SES_ENDPOINT_URL", "http://127.0.0.1:5000")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u@db.example.com/news"
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.mail_backend == "ses"
    assert str(settings.outbox) == "/tmp/out"
    assert settings.base_url == "https://papers.example.com"
    assert settings.secret_key == "s3cret"
    assert settings.sender_address == "d@example.com"
    assert settings.ses.region == "eu-west-1"
    assert settings.ses.endpoint_url == "http://127.0.0.1:5000"
    assert settings.embedded is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSLETTER_MAIL_BACKEND", "pigeon", "NEWSLETTER_MAIL_BACKEND"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("REDIS_URL", "http://x", "REDIS_URL"),
        ("NEWSLETTER_BASE_URL", "papers.example.com", "NEWSLETTER_BASE_URL"),
        ("NEWSLETTER_FROM", "not an address", "NEWSLETTER_FROM"),
        ("NEWSLETTER_DEFAULT_TIMEZONE", "Mars/Olympus", "NEWSLETTER_DEFAULT_TIMEZONE"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert message in str(excinfo.value)


def test_the_command_refuses_to_start_on_bad_config_without_a_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "NEWSLETTER_MAIL_BACKEND": "pigeon", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "newsletter.cli", "subscribers", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "NEWSLETTER_MAIL_BACKEND" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSLETTER_MAIL_BACKEND", "ses"),
        ("NEWSLETTER_MAIL_BACKEND", "smtp"),
        ("NEWSLETTER_BASE_URL", "https://papers.example.com"),
    ],
)
def test_real_mail_with_the_public_default_secret_key_refuses_to_start(monkeypatch, name, value):
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "NEWSLETTER_SECRET_KEY" in message and "\n" not in message
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "dev-insecure-secret-change-me")
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET_KEY"):
        load_settings()


def test_the_local_demo_runs_without_a_secret_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    monkeypatch.delenv("NEWSLETTER_BASE_URL")
    for backend in ("file", "console"):
        monkeypatch.setenv("NEWSLETTER_MAIL_BACKEND", backend)
        assert load_settings().secret_key == "dev-insecure-secret-change-me"


def test_the_command_refuses_to_start_with_the_default_key_for_real_mail(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_MAIL_BACKEND": "ses",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "newsletter.cli", "subscribers", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "NEWSLETTER_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
