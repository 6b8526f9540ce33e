"""Settings read once from the environment and validated at start-up.

Every knob of the service lives here so that a bad value fails loudly when a process
starts, not halfway through an edition.
"""

from __future__ import annotations

import functools
import json
import re
import zoneinfo
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MailBackend = Literal["ses", "smtp", "file", "console"]
# A list read from one comma-separated variable ("cs.LG,cs.CL"), not from JSON.
CommaList = Annotated[list[str], NoDecode]

DEFAULT_DATABASE_URL = "sqlite:///newsletter.db"
INSECURE_DEV_SECRET = "dev-insecure-secret-change-me"
SECRET_KEY_MISSING = (
    "NEWSLETTER_SECRET_KEY: set a long random value (e.g. `openssl rand -hex 32`); the "
    "public default may only sign links of the local demo, not mail that leaves this machine"
)


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
    # --- delivery: leases, retries, catch-up (tests shrink these) -------------------
    # How long a claimed delivery may stay `sending` before it is declared `uncertain`.
    send_lease_seconds: float = Field(
        600.0, validation_alias=_env("NEWSLETTER_SEND_LEASE_SECONDS"), gt=0
    )
    # Pending rows untouched this long are put back on the queues (lost task messages).
    requeue_after_seconds: float = Field(
        600.0, validation_alias=_env("NEWSLETTER_REQUEUE_AFTER_SECONDS"), gt=0
    )
    # Cap of the exponential backoff between retries of throttled/5xx sends.
    send_retry_max_seconds: float = Field(
        300.0, validation_alias=_env("NEWSLETTER_SEND_RETRY_MAX_SECONDS"), gt=0
    )
    ses_timeout: float = Field(20.0, validation_alias=_env("NEWSLETTER_SES_TIMEOUT"), gt=0)
    # How long after a daily quota overrun sending stays paused before trying again.
    quota_pause_seconds: float = Field(
        3600.0, validation_alias=_env("NEWSLETTER_QUOTA_PAUSE_SECONDS"), gt=0
    )
    # A send time missed across local midnight (beat down) is still honoured this late.
    catchup_hours: float = Field(
        6.0, validation_alias=_env("NEWSLETTER_CATCHUP_HOURS"), ge=0, le=23
    )
    # arXiv announces nothing on weekends and holidays: no daily digest then, by default.
    send_on_quiet_days: bool = Field(False, validation_alias=_env("NEWSLETTER_SEND_ON_QUIET_DAYS"))
    arxiv_holidays: CommaList = Field(
        default_factory=list, validation_alias=_env("NEWSLETTER_ARXIV_HOLIDAYS")
    )
    plan_interval_seconds: float = Field(
        300.0, validation_alias=_env("NEWSLETTER_PLAN_INTERVAL_SECONDS"), gt=0
    )
    smtp_host: str = Field("127.0.0.1", validation_alias=_env("NEWSLETTER_SMTP_HOST"))
    smtp_port: int = Field(25, validation_alias=_env("NEWSLETTER_SMTP_PORT"), ge=1, le=65535)
    smtp_user: str | None = Field(None, validation_alias=_env("NEWSLETTER_SMTP_USER"))
    smtp_password: str | None = Field(None, validation_alias=_env("NEWSLETTER_SMTP_PASSWORD"))
    smtp_starttls: bool = Field(False, validation_alias=_env("NEWSLETTER_SMTP_STARTTLS"))
    arxiv_categories: CommaList = Field(
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
    # Where celery beat remembers last run times (a file; keep it out of the source tree).
    beat_schedule: Path = Field(
        Path("celerybeat-schedule"), validation_alias=_env("NEWSLETTER_BEAT_SCHEDULE")
    )
    # The SNS topic(s) SES events arrive on (comma-separated ARNs); /webhooks/ses refuses
    # every other topic, and everything when this is unset.
    sns_topic_arn: str | None = Field(None, validation_alias=_env("NEWSLETTER_SNS_TOPIC_ARN"))
    # --- ingest: source endpoints (tests point these at a local server) -------------
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", validation_alias=_env("NEWSLETTER_ARXIV_API_URL")
    )
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org/rss", validation_alias=_env("NEWSLETTER_ARXIV_RSS_URL")
    )
    hf_api_url: str = Field(
        "https://huggingface.co/api/daily_papers", validation_alias=_env("NEWSLETTER_HF_API_URL")
    )
    oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai", validation_alias=_env("NEWSLETTER_OAI_URL")
    )
    # arXiv's terms: at most one request every 3 seconds, one connection at a time.
    arxiv_min_interval: float = Field(
        3.0, validation_alias=_env("NEWSLETTER_ARXIV_MIN_INTERVAL"), ge=0
    )
    arxiv_page_size: int = Field(
        100, validation_alias=_env("NEWSLETTER_ARXIV_PAGE_SIZE"), ge=1, le=2000
    )
    arxiv_max_results: int = Field(
        500, validation_alias=_env("NEWSLETTER_ARXIV_MAX_RESULTS"), ge=1, le=30000
    )
    http_timeout: float = Field(30.0, validation_alias=_env("NEWSLETTER_HTTP_TIMEOUT"), gt=0)
    http_retries: int = Field(4, validation_alias=_env("NEWSLETTER_HTTP_RETRIES"), ge=0, le=10)
    http_backoff: float = Field(2.0, validation_alias=_env("NEWSLETTER_HTTP_BACKOFF"), ge=0)
    user_agent: str | None = Field(None, validation_alias=_env("NEWSLETTER_USER_AGENT"))
    # Which sources beat runs, and when (five-field cron, UTC). arXiv rebuilds its
    # listings at midnight US Eastern; Hugging Face upvotes move all day.
    ingest_sources: CommaList = Field(
        default_factory=lambda: ["arxiv-rss", "hf"],
        validation_alias=_env("NEWSLETTER_INGEST_SOURCES"),
    )
    schedule_arxiv_rss: str = Field(
        "30 5 * * *", validation_alias=_env("NEWSLETTER_SCHEDULE_ARXIV_RSS")
    )
    schedule_arxiv: str = Field("0 6 * * *", validation_alias=_env("NEWSLETTER_SCHEDULE_ARXIV"))
    schedule_hf: str = Field("15 */2 * * *", validation_alias=_env("NEWSLETTER_SCHEDULE_HF"))
    schedule_oai: str = Field("0 3 * * 6", validation_alias=_env("NEWSLETTER_SCHEDULE_OAI"))
    # --- ranking: the blend's weights (documented in newsletter/ranking/score.py) ----
    rank_relevance_weight: float = Field(
        1.0, validation_alias=_env("NEWSLETTER_RANK_RELEVANCE_WEIGHT"), ge=0
    )
    rank_keyword_weight: float = Field(
        0.3, validation_alias=_env("NEWSLETTER_RANK_KEYWORD_WEIGHT"), ge=0
    )
    rank_trending_weight: float = Field(
        0.15, validation_alias=_env("NEWSLETTER_RANK_TRENDING_WEIGHT"), ge=0
    )
    # Trending and recency count only for papers at least this relevant (a fraction of
    # the reader's best candidate); 0 = always. See newsletter.ranking.score.
    rank_trending_floor: float = Field(
        0.5, validation_alias=_env("NEWSLETTER_RANK_TRENDING_FLOOR"), ge=0, le=1
    )
    rank_recency_weight: float = Field(
        0.05, validation_alias=_env("NEWSLETTER_RANK_RECENCY_WEIGHT"), ge=0
    )
    rank_half_life_days: float = Field(
        7.0, validation_alias=_env("NEWSLETTER_RANK_HALF_LIFE_DAYS"), gt=0
    )
    rank_category_weight: float = Field(
        0.1, validation_alias=_env("NEWSLETTER_RANK_CATEGORY_WEIGHT"), ge=0
    )
    rank_feedback_weight: float = Field(
        0.35, validation_alias=_env("NEWSLETTER_RANK_FEEDBACK_WEIGHT"), ge=0, le=1
    )
    rank_hidden_penalty: float = Field(
        0.3, validation_alias=_env("NEWSLETTER_RANK_HIDDEN_PENALTY"), ge=0
    )
    rank_negative_penalty: float = Field(
        0.3, validation_alias=_env("NEWSLETTER_RANK_NEGATIVE_PENALTY"), ge=0
    )
    rank_clicked_weight: float = Field(
        0.6, validation_alias=_env("NEWSLETTER_RANK_CLICKED_WEIGHT"), ge=0, le=1
    )
    rank_mmr_lambda: float = Field(
        0.75, validation_alias=_env("NEWSLETTER_RANK_MMR_LAMBDA"), ge=0, le=1
    )
    rank_duplicate_similarity: float = Field(
        0.8, validation_alias=_env("NEWSLETTER_RANK_DUPLICATE_SIMILARITY"), gt=0, le=1
    )
    rank_min_feedback: int = Field(6, validation_alias=_env("NEWSLETTER_RANK_MIN_FEEDBACK"), ge=2)
    # Sentence embeddings: "off", "minilm" (all-MiniLM-L6-v2, the `embeddings` extra), or
    # "package.module:factory" returning an object with .name and .encode(texts).
    embeddings: str = Field("off", validation_alias=_env("NEWSLETTER_EMBEDDINGS"), min_length=1)
    # Share of relevance from stored sentence embeddings, where they exist (see
    # newsletter/ranking/dense.py): for seed/liked/hidden papers, and for keywords and
    # descriptions (short texts, where exact words fail most); 0 ignores them.
    rank_dense_paper_weight: float = Field(
        0.1, validation_alias=_env("NEWSLETTER_RANK_DENSE_PAPER_WEIGHT"), ge=0, le=1
    )
    rank_dense_text_weight: float = Field(
        0.8, validation_alias=_env("NEWSLETTER_RANK_DENSE_TEXT_WEIGHT"), ge=0, le=1
    )
    # Without embeddings: share of keyword/description relevance taken from similarity
    # to the reader's best few matches (pseudo-relevance feedback); 0 turns it off.
    rank_expansion_weight: float = Field(
        0.5, validation_alias=_env("NEWSLETTER_RANK_EXPANSION_WEIGHT"), ge=0, le=1
    )
    rank_expansion_depth: int = Field(
        2, validation_alias=_env("NEWSLETTER_RANK_EXPANSION_DEPTH"), ge=1, le=20
    )
    # --- security of links, forms and operator pages (issue 11) ----------------------
    # The user name /admin asks for, with NEWSLETTER_ADMIN_PASSWORD.
    admin_user: str = Field("admin", validation_alias=_env("NEWSLETTER_ADMIN_USER"), min_length=1)
    # When set, /metrics answers only requests carrying `Authorization: Bearer <token>`.
    metrics_token: str | None = Field(None, validation_alias=_env("NEWSLETTER_METRICS_TOKEN"))
    # SNS SignatureVersion 1 is SHA1; accept it only when the topic cannot be switched to 2.
    sns_allow_signature_v1: bool = Field(
        False, validation_alias=_env("NEWSLETTER_SNS_ALLOW_SIGNATURE_V1")
    )
    # This many transient bounces in a row (no delivery between) suppress an address; 0 = never.
    transient_bounce_limit: int = Field(
        5, validation_alias=_env("NEWSLETTER_TRANSIENT_BOUNCE_LIMIT"), ge=0
    )
    # --- web security: signup caps, client address, request bodies (issue 11) ------
    # Signups accepted per client address, and outgoing signup/confirmation emails in
    # all, per window; beyond them the form answers 429. 0 turns a cap off.
    signup_limit_per_client: int = Field(
        5, validation_alias=_env("NEWSLETTER_SIGNUP_LIMIT_PER_CLIENT"), ge=0
    )
    signup_limit_per_mailbox: int = Field(
        3, validation_alias=_env("NEWSLETTER_SIGNUP_LIMIT_PER_MAILBOX"), ge=0
    )
    signup_limit_global: int = Field(
        200, validation_alias=_env("NEWSLETTER_SIGNUP_LIMIT_GLOBAL"), ge=0
    )
    signup_limit_window_seconds: float = Field(
        3600.0, validation_alias=_env("NEWSLETTER_SIGNUP_LIMIT_WINDOW_SECONDS"), gt=0
    )
    # Behind a reverse proxy that sets X-Forwarded-For: how many proxies to trust (the
    # client is the address that many hops from the right). 0 = use the socket's peer.
    trusted_proxies: int = Field(0, validation_alias=_env("NEWSLETTER_TRUSTED_PROXIES"), ge=0)

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

    @field_validator("arxiv_categories", "ingest_sources", "arxiv_holidays", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                try:
                    return json.loads(value)
                except ValueError:
                    raise ValueError("not a JSON list; use a comma-separated list") from None
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("ingest_sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        known = {"sample", "arxiv", "arxiv-rss", "hf", "oai"}
        unknown = [item for item in value if item not in known]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; choose from {sorted(known)}")
        return value

    @field_validator("arxiv_holidays")
    @classmethod
    def _iso_dates(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                date.fromisoformat(item)
            except ValueError:
                raise ValueError(f"not an ISO date (YYYY-MM-DD): {item!r}") from None
        return value

    @field_validator("schedule_arxiv_rss", "schedule_arxiv", "schedule_hf", "schedule_oai")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"not a five-field cron expression: {value!r}")
        return value

    @field_validator("arxiv_api_url", "arxiv_rss_url", "hf_api_url", "oai_url")
    @classmethod
    def _source_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

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
    """Build settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if not error["loc"]:
                # A check across fields: its message names the variable itself.
                cause = error.get("ctx", {}).get("error")
                problems.append(str(cause) if cause else error["msg"])
                continue
            name = _env_name(str(error["loc"][0]))
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
