"""Settings read once from the environment and validated at start-up.

Every knob of the service lives here so that a bad value fails loudly when a process
starts, not halfway through an edition.
"""

from __future__ import annotations

import functools
import zoneinfo
from pathlib import Path
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MailBackend = Literal["ses", "smtp", "file", "console"]

DEFAULT_DATABASE_URL = "sqlite:///newsletter.db"
INSECURE_DEV_SECRET = "dev-insecure-secret-change-me"


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """The service's configuration; field aliases are the environment variable names."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    mail_backend: MailBackend = Field("file", validation_alias=_env("NEWSLETTER_MAIL_BACKEND"))
    outbox: Path = Field(Path("outbox"), validation_alias=_env("NEWSLETTER_OUTBOX"))
    base_url: str = Field("http://127.0.0.1:8000", validation_alias=_env("NEWSLETTER_BASE_URL"))
    secret_key: str = Field(INSECURE_DEV_SECRET, validation_alias=_env("NEWSLETTER_SECRET_KEY"))
    mail_from: str = Field(
        "Trending Papers <digest@example.com>", validation_alias=_env("NEWSLETTER_FROM")
    )
    reply_to: str | None = Field(None, validation_alias=_env("NEWSLETTER_REPLY_TO"))
    list_id: str = Field("trending-papers.example.com", validation_alias=_env("NEWSLETTER_LIST_ID"))
    aws_region: str = Field("us-east-1", validation_alias=_env("AWS_REGION"))
    ses_endpoint_url: str | None = Field(None, validation_alias=_env("NEWSLETTER_SES_ENDPOINT_URL"))
    ses_configuration_set: str | None = Field(
        None, validation_alias=_env("NEWSLETTER_SES_CONFIGURATION_SET")
    )
    send_rate: float | None = Field(None, validation_alias=_env("NEWSLETTER_SEND_RATE"), gt=0)
    smtp_host: str = Field("127.0.0.1", validation_alias=_env("NEWSLETTER_SMTP_HOST"))
    smtp_port: int = Field(25, validation_alias=_env("NEWSLETTER_SMTP_PORT"), ge=1, le=65535)
    smtp_user: str | None = Field(None, validation_alias=_env("NEWSLETTER_SMTP_USER"))
    smtp_password: str | None = Field(None, validation_alias=_env("NEWSLETTER_SMTP_PASSWORD"))
    smtp_starttls: bool = Field(False, validation_alias=_env("NEWSLETTER_SMTP_STARTTLS"))
    arxiv_categories: list[str] = Field(
        default_factory=lambda: ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"],
        validation_alias=_env("NEWSLETTER_ARXIV_CATEGORIES"),
    )
    default_timezone: str = Field("UTC", validation_alias=_env("NEWSLETTER_DEFAULT_TIMEZONE"))
    default_send_hour: int = Field(
        7, validation_alias=_env("NEWSLETTER_DEFAULT_SEND_HOUR"), ge=0, le=23
    )
    default_max_papers: int = Field(
        10, validation_alias=_env("NEWSLETTER_DEFAULT_MAX_PAPERS"), ge=1, le=50
    )
    admin_password: str | None = Field(None, validation_alias=_env("NEWSLETTER_ADMIN_PASSWORD"))

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "must start with sqlite:// or postgresql:// (e.g. postgresql+psycopg://)"
            )
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we install; spell it out for SQLAlchemy.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("mail_from")
    @classmethod
    def _from_address(cls, value: str) -> str:
        address = value.rsplit("<", 1)[-1].rstrip(">").strip()
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"not a valid sender address: {exc}") from None
        return value

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    @field_validator("arxiv_categories", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def embedded(self) -> bool:
        """Whether tasks run in-process (no broker configured)."""
        return self.redis_url is None

    @property
    def sender_address(self) -> str:
        return self.mail_from.rsplit("<", 1)[-1].rstrip(">").strip()


def load_settings() -> Settings:
    """Build settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = error["loc"][0] if error["loc"] else "?"
            name = _env_name(str(field))
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call `get_settings.cache_clear()`)."""
    return load_settings()
