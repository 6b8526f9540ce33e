"""Settings read once from the environment and validated at start-up.

Every knob of the service lives here so that a bad value fails loudly when a process
starts, not halfway through an edition.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic.types import DirectoryPath
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.config_sections import (
    MAX_PAPERS,
    MAX_PAPERS_DEFAULT,
    ArxivSettings,
    CommaList,
    DefaultSettings,
    HttpSettings,
    RankWeights,
    RetentionSettings,
    ScheduleSettings,
    Section,
    SendSettings,
    SesSettings,
    SignupLimits,
    SiteSettings,
    SmtpSettings,
    comma_list,
    http_url,
)
from newsletter.ingest.sources import SOURCES

__all__ = [
    "MAX_PAPERS",
    "MAX_PAPERS_DEFAULT",
    "ConfigError",
    "RankWeights",
    "Settings",
    "env_name",
    "get_settings",
    "load_settings",
]

MailBackend = Literal["ses", "smtp", "file", "console"]

DEFAULT_DATABASE_URL = "sqlite:///newsletter.db"
INSECURE_DEV_SECRET = "dev-insecure-secret-change-me"
SECRET_KEY_MISSING = (
    "NEWSLETTER_SECRET_KEY: set a long random value (e.g. `openssl rand -hex 32`); the "
    "public default may only sign links of the local demo, not mail that leaves this machine"
)


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


def _section(cls: type[Section]) -> Any:
    return Field(default_factory=cls)


class Settings(BaseSettings):
    """The service's configuration: NEWSLETTER_<NAME> for each field, grouped sections
    for the knobs that share a prefix."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_", extra="ignore", frozen=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL"))
    mail_backend: MailBackend = "file"
    outbox: Path = Path("outbox")
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = INSECURE_DEV_SECRET
    mail_from: str = Field(
        "Trending Papers <digest@example.com>", validation_alias=AliasChoices("NEWSLETTER_FROM")
    )
    reply_to: str | None = None
    list_id: str = "trending-papers.example.com"
    # Pending rows untouched this long are put back on the queues (lost task messages).
    requeue_after_seconds: float = Field(600.0, gt=0)
    # How long after a daily quota overrun sending stays paused before trying again.
    quota_pause_seconds: float = Field(3600.0, gt=0)
    # A send time missed across local midnight (beat down) is still honoured this late.
    catchup_hours: float = Field(6.0, ge=0, le=23)
    plan_interval_seconds: float = Field(300.0, gt=0)
    # The user name and password /admin asks for (disabled without a password).
    admin_user: str = Field("admin", min_length=1)
    admin_password: str | None = None
    # When set, /metrics answers only requests carrying `Authorization: Bearer <token>`.
    metrics_token: str | None = None
    # Where celery beat remembers last run times (a file; keep it out of the source tree).
    beat_schedule: Path = Path("celerybeat-schedule")
    # The SNS topic(s) SES events arrive on (comma-separated ARNs); /webhooks/ses refuses
    # every other topic, and everything when this is unset.
    sns_topic_arn: str | None = None
    # SNS SignatureVersion 1 is SHA1; accept it only when the topic cannot be switched to 2.
    sns_allow_signature_v1: bool = False
    # This many transient bounces in a row (no delivery between) suppress an address; 0 = never.
    transient_bounce_limit: int = Field(5, ge=0)
    # Behind a reverse proxy that sets X-Forwarded-For: how many proxies to trust (the
    # client is the address that many hops from the right). 0 = use the socket's peer.
    trusted_proxies: int = Field(0, ge=0)
    # Which sources beat runs (names of newsletter.ingest.sources.SOURCES).
    ingest_sources: CommaList = Field(default_factory=lambda: ["arxiv-rss", "hf"])
    hf_api_url: str = "https://huggingface.co/api/daily_papers"
    oai_url: str = "https://oaipmh.arxiv.org/oai"
    user_agent: str | None = None
    # Sentence embeddings: "off", "minilm" (all-MiniLM-L6-v2, the `embeddings` extra), or
    # "package.module:factory" returning an object with .name and .encode(texts).
    embeddings: str = Field("off", min_length=1)
    # --- operators' cockpit: /admin actions and alerts (issue 15) -----------------
    # /admin alerts when the oldest message of a queue has waited longer than this.
    alert_queue_age_minutes: float = Field(15.0, gt=0)
    # --- metrics, logs, retention (issue 15; README "Metrics and logs") -------------
    # "json": one JSON object per log line, with the task id, edition and delivery id.
    log_format: Literal["text", "json"] = "text"
    # prometheus-client's own variable: a directory where every worker and web process
    # of a host keeps its counters, so /metrics adds them all up. Empty it before start.
    metrics_dir: DirectoryPath | None = Field(
        None, validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR")
    )

    ranking: RankWeights = _section(RankWeights)
    send: SendSettings = _section(SendSettings)
    ses: SesSettings = _section(SesSettings)
    smtp: SmtpSettings = _section(SmtpSettings)
    arxiv: ArxivSettings = _section(ArxivSettings)
    http: HttpSettings = _section(HttpSettings)
    schedule: ScheduleSettings = _section(ScheduleSettings)
    defaults: DefaultSettings = _section(DefaultSettings)
    signup_limits: SignupLimits = _section(SignupLimits)
    retention: RetentionSettings = _section(RetentionSettings)
    site: SiteSettings = _section(SiteSettings)

    _urls = field_validator("hf_api_url", "oai_url")(http_url)
    _lists = field_validator("ingest_sources", mode="before")(comma_list)

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

    @field_validator("embeddings")
    @classmethod
    def _embeddings_choice(cls, value: str) -> str:
        # Only the form is checked here; importing a model is the embed task's job.
        value = value.strip()
        if value.lower() in ("off", "none", "0", "false", "minilm"):
            return value.lower()
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError("must be off, minilm, or package.module:factory")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        return http_url(value)

    @field_validator("mail_from")
    @classmethod
    def _from_address(cls, value: str) -> str:
        address = value.rsplit("<", 1)[-1].rstrip(">").strip()
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"not a valid sender address: {exc}") from None
        return value

    @field_validator("ingest_sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        unknown = [item for item in value if item not in SOURCES]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; choose from {sorted(SOURCES)}")
        return value

    @model_validator(mode="after")
    def _secret_for_real_mail(self) -> Settings:
        # Links signed with the public default key can be forged by anyone; the embedded
        # demo (file or console mail to a local URL) may use it, real mail may not.
        real = self.mail_backend in ("ses", "smtp") or self.base_url.startswith("https://")
        if real and self.secret_key in ("", INSECURE_DEV_SECRET):
            raise ValueError(SECRET_KEY_MISSING)
        return self

    @property
    def http_user_agent(self) -> str:
        """Say who we are, as arXiv's terms ask: a name, a URL and a contact address."""
        if self.user_agent:
            return self.user_agent
        return f"paper-newsletter/0.1 (+{self.base_url}; mailto:{self.sender_address})"

    @property
    def embedded(self) -> bool:
        """Whether tasks run in-process (no broker configured)."""
        return self.redis_url is None

    @property
    def sender_address(self) -> str:
        return self.mail_from.rsplit("<", 1)[-1].rstrip(">").strip()


def load_settings() -> Settings:
    """Build settings from the environment, turning validation errors into one clear message.

    Each section is read on its own first, so one message names every bad variable.
    """
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        cls = info.annotation
        if isinstance(cls, type) and issubclass(cls, Section):
            try:
                sections[name] = cls()
            except ValidationError as exc:
                problems.extend(_describe(cls, exc))
                sections[name] = cls.model_construct()
    try:
        settings = Settings(**sections)
    except ValidationError as exc:
        problems.extend(_describe(Settings, exc))
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings


def _describe(model: type[BaseSettings], exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        if not error["loc"]:
            # A check across fields: its message names the variable itself.
            cause = error.get("ctx", {}).get("error")
            problems.append(str(cause) if cause else error["msg"])
            continue
        problems.append(f"{env_name(model, str(error['loc'][0]))}: {error['msg']}")
    return problems


def env_name(model: type[BaseSettings], field: str) -> str:
    """Return the environment variable that sets `field` of `model`."""
    info = model.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call `get_settings.cache_clear()`)."""
    return load_settings()
