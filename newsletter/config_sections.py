"""The sections of the settings: knobs that share a variable prefix (NEWSLETTER_SMTP_...).

Each section reads its own variables; newsletter.config assembles them into Settings.
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import date
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A list read from one comma-separated variable ("cs.LG,cs.CL"), not from JSON.
CommaList = Annotated[list[str], NoDecode]
# Papers per digest: what a reader may ask for, and the default.
MAX_PAPERS = 50
MAX_PAPERS_DEFAULT = 10


class Section(BaseSettings):
    """A group of settings read from variables sharing one prefix (NEWSLETTER_SMTP_...).

    Field names are the variable names without the prefix, so no field spells its own
    variable; the few that cannot (a Python keyword, AWS's own name) carry an alias.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def comma_list(value: object) -> object:
    if isinstance(value, str):
        if value.strip().startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("not a JSON list; use a comma-separated list") from None
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class RankWeights(Section):
    """How much each ranking signal counts (NEWSLETTER_RANK_*).

    The ranking reads this object as it is: newsletter/ranking/score.py's `rank_chunk`
    documents the formula. The defaults of expansion_weight, feedback_weight,
    feedback_background, min_feedback, dense_text_weight, dense_paper_weight and
    dense_agreement are what bench/eval_ranking.py picks by cross-validation over the
    judged profiles (its table is in the README).
    """

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_RANK_")

    relevance_weight: float = Field(1.0, ge=0)
    keyword_weight: float = Field(0.3, ge=0)
    # Keyword hits scaled by how relevant the paper is otherwise.
    mention_scaled: bool = True
    trending_weight: float = Field(0.15, ge=0)
    # Trending and recency count only for papers at least this relevant (a fraction of
    # the reader's best candidate); 0 = always.
    trending_floor: float = Field(0.5, ge=0, le=1)
    recency_weight: float = Field(0.05, ge=0)
    half_life_days: float = Field(7.0, gt=0)
    category_weight: float = Field(0.1, ge=0)
    feedback_weight: float = Field(0.85, ge=0, le=1)
    hidden_penalty: float = Field(0.3, ge=0)
    negative_penalty: float = Field(0.3, ge=0)
    clicked_weight: float = Field(0.6, ge=0, le=1)
    mmr_lambda: float = Field(0.75, ge=0, le=1)
    # Never two picks at least this similar (cosine); above 1 turns the cut off.
    duplicate_similarity: float = Field(0.8, gt=0)
    min_feedback: int = Field(4, ge=2)
    # Readers who wrote keywords or a description: their words keep this share against
    # the feedback model, which they need this many labels for (see signals/feedback.py).
    text_feedback_weight: float = Field(0.35, ge=0, le=1)
    text_min_feedback: int = Field(6, ge=2)
    # The rest of the edition as one more negative for the feedback model (its mean
    # paper), with this many times the weight of the reader's own negatives; 0 = off.
    feedback_background: float = Field(10.0, ge=0)
    # Share of relevance from stored sentence embeddings where they exist: for
    # seed/liked/hidden papers, and for keywords and descriptions; 0 ignores them.
    dense_paper_weight: float = Field(0.1, ge=0, le=1)
    dense_text_weight: float = Field(0.8, ge=0, le=1)
    # How far the dense shares shrink where tf-idf and the embeddings disagree on a
    # reader's (or paper's) top 10: 0 = never, 1 = to nothing when they share none.
    dense_agreement: float = Field(1.0, ge=0, le=1)
    # Without embeddings: share of keyword/description relevance taken from similarity
    # to the reader's best few matches (pseudo-relevance feedback); 0 turns it off.
    expansion_weight: float = Field(0.7, ge=0, le=1)
    expansion_depth: int = Field(2, ge=1, le=20)


class SendSettings(Section):
    """Sending digests (NEWSLETTER_SEND_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_SEND_")

    # Messages per second for the whole fleet; unset: SES GetAccount's MaxSendRate.
    rate: float | None = Field(None, gt=0)
    # How long a claimed delivery may stay `sending` before it is declared `uncertain`.
    lease_seconds: float = Field(600.0, gt=0)
    # Cap of the exponential backoff between retries of throttled/5xx sends.
    retry_max_seconds: float = Field(300.0, gt=0)
    # arXiv announces nothing on weekends and holidays: no daily digest then, by default.
    on_quiet_days: bool = False
    # SES requests one worker process keeps in flight (a thread pool over one client
    # with as many connections). Size it as account rate x SES round trip / processes
    # sending, with room to spare: 500/s x 0.05 s / 4 processes = 6.25 -> 16.
    concurrency: int = Field(16, ge=1, le=256)


class SesSettings(Section):
    """Amazon SES (NEWSLETTER_SES_*; the region is AWS's own AWS_REGION)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_SES_")

    region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION"))
    endpoint_url: str | None = None
    configuration_set: str | None = None
    timeout: float = Field(20.0, gt=0)


class SmtpSettings(Section):
    """The SMTP backend (NEWSLETTER_SMTP_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_SMTP_")

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    user: str | None = None
    password: str | None = None
    starttls: bool = False


class ArxivSettings(Section):
    """arXiv: what to ingest and how politely (NEWSLETTER_ARXIV_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_ARXIV_")

    categories: CommaList = Field(
        default_factory=lambda: ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"]
    )
    # ISO dates without announcements (no daily digest then).
    holidays: CommaList = Field(default_factory=list)
    api_url: str = "https://export.arxiv.org/api/query"
    rss_url: str = "https://rss.arxiv.org/rss"
    # arXiv's terms: at most one request every 3 seconds, one connection at a time.
    min_interval: float = Field(3.0, ge=0)
    page_size: int = Field(100, ge=1, le=2000)
    max_results: int = Field(500, ge=1, le=30000)

    _lists = field_validator("categories", "holidays", mode="before")(comma_list)
    _urls = field_validator("api_url", "rss_url")(http_url)

    @field_validator("holidays")
    @classmethod
    def _iso_dates(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                date.fromisoformat(item)
            except ValueError:
                raise ValueError(f"not an ISO date (YYYY-MM-DD): {item!r}") from None
        return value


class HttpSettings(Section):
    """Requests to every source (NEWSLETTER_HTTP_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_HTTP_")

    timeout: float = Field(30.0, gt=0)
    retries: int = Field(4, ge=0, le=10)
    backoff: float = Field(2.0, ge=0)


class ScheduleSettings(Section):
    """When beat runs each source: five-field cron, UTC (NEWSLETTER_SCHEDULE_*).

    arXiv rebuilds its listings at midnight US Eastern; Hugging Face upvotes move all day.
    """

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_SCHEDULE_")

    arxiv_rss: str = "30 5 * * *"
    arxiv: str = "0 6 * * *"
    hf: str = "15 */2 * * *"
    oai: str = "0 3 * * 6"

    @field_validator("arxiv_rss", "arxiv", "hf", "oai")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"not a five-field cron expression: {value!r}")
        return value


class DefaultSettings(Section):
    """What a new subscriber starts with (NEWSLETTER_DEFAULT_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_DEFAULT_")

    timezone: str = "UTC"
    send_hour: int = Field(7, ge=0, le=23)
    max_papers: int = Field(MAX_PAPERS_DEFAULT, ge=1, le=MAX_PAPERS)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value


class SignupLimits(Section):
    """Caps on signups per window; beyond them the form answers 429; 0 turns one off
    (NEWSLETTER_SIGNUP_LIMIT_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_SIGNUP_LIMIT_")

    per_client: int = Field(5, ge=0)
    per_mailbox: int = Field(3, ge=0)
    # Outgoing signup/confirmation emails in all.
    overall: int = Field(200, ge=0, validation_alias=AliasChoices("NEWSLETTER_SIGNUP_LIMIT_GLOBAL"))
    window_seconds: float = Field(3600.0, gt=0)


class RetentionSettings(Section):
    """Days the daily prune keeps rows (NEWSLETTER_RETENTION_*; newsletter/retention.py).

    SES events go after `event_days`, except bounces and complaints, which the 30-day
    rates count: they go with ingest runs and sent deliveries after `days` (>= 31).
    """

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_RETENTION_")

    event_days: int = Field(14, ge=1)
    days: int = Field(90, ge=31)


class SiteSettings(Section):
    """The public site: trending pages, search, archive and feeds (NEWSLETTER_SITE_*)."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_SITE_")

    # How long a public page is reused by each web process and by browsers; 0: off.
    cache_seconds: int = Field(60, ge=0, le=86400)
