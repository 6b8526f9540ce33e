"""The data model: papers, subscribers and what they asked for, editions and deliveries.

The Delivery row is the idempotency key of the whole pipeline: one per (edition,
subscriber), claimed with a conditional update before anything is sent.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from newsletter.timeutil import utcnow


class Base(DeclarativeBase):
    # Plain strings for states, no native ENUM types: adding a state later is a code
    # change, not an ALTER TYPE on PostgreSQL.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class EmailFormat(enum.StrEnum):
    HTML = "html"
    TEXT = "text"


class InterestKind(enum.StrEnum):
    KEYWORD = "keyword"
    NEGATIVE_KEYWORD = "negative_keyword"
    CATEGORY = "category"
    DESCRIPTION = "description"
    SEED_PAPER = "seed_paper"


class FeedbackKind(enum.StrEnum):
    CLICKED = "clicked"
    LIKED = "liked"
    HIDDEN = "hidden"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


FINAL_DELIVERY_STATES = frozenset(
    {DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.SUPPRESSED, DeliveryState.SKIPPED}
)


class SuppressionReason(enum.StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    UNSUBSCRIBE = "unsubscribe"
    # The reader asked to be forgotten: the row holds a hash of the address, never the
    # address (newsletter.subscriptions.erasure), so imports cannot re-add them.
    ERASED = "erased"


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)
    title_raw: Mapped[str] = mapped_column(Text, default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    abstract_raw: Mapped[str] = mapped_column(Text, default="")
    # [{"name": ..., "affiliation": ...}]
    authors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(32))
    published_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    abs_url: Mapped[str | None] = mapped_column(Text)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    hf_url: Mapped[str | None] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    project_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    num_comments: Mapped[int] = mapped_column(Integer, default=0)
    # From Hugging Face: its model's one-line summary and keywords, and the code's stars
    # (None: not known, unlike 0 stars). Kept for the digest cards.
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    github_stars: Mapped[int | None] = mapped_column(Integer)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Optional dense text embedding (float32 bytes), computed once per paper, and the
    # model that made it: vectors of another model are recomputed, never mixed.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_papers_published_at", "published_at"),)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.PENDING)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=7)
    frequency: Mapped[str] = mapped_column(String(20), default=Frequency.DAILY)
    # 0 = Monday ... 6 = Sunday, used when frequency is weekly.
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    max_papers: Mapped[int] = mapped_column(Integer, default=10)
    format: Mapped[str] = mapped_column(String(20), default=EmailFormat.HTML)
    # Bumped to revoke every signed link issued before.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # When the signup form last mailed this address (confirm/welcome); throttles repeats
    # so the form cannot be used to flood someone's inbox.
    last_signup_mail_at: Mapped[datetime | None]
    # SES transient bounces since the last delivery; enough in a row suppress the address.
    transient_bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Paper links go through /c/ to record clicks (they improve the picks) unless the
    # reader turns it off; then they point straight at arXiv and Hugging Face.
    click_tracking: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The digest's short "Also trending" section: popular papers outside the interests.
    also_trending: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    # In the order they were added: a reader's description parts join the same way
    # everywhere (its stored embedding is looked up by that text).
    interests: Mapped[list[Interest]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Interest.id",
    )


class SignupRequest(Base):
    """The choices of one signup form, applied only when its own confirmation link is used.

    A signup for an address that is pending or unsubscribed must not change that
    subscriber: anyone can type any address into the form.
    """

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_signup_requests_subscriber", "subscriber_id"),)


class Interest(Base):
    __tablename__ = "interests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)

    subscriber: Mapped[Subscriber] = relationship(back_populates="interests")

    __table_args__ = (UniqueConstraint("subscriber_id", "kind", "value", name="uq_interest"),)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    arxiv_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_feedback_subscriber", "subscriber_id", "kind"),)


class Edition(Base):
    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # e.g. "daily-2026-11-26" or "weekly-2026-W48": one per digest window.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    frequency: Mapped[str] = mapped_column(String(20))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Frozen when the edition opens so later timezones get the same candidates.
    candidate_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING)
    # [{"arxiv_id", "score", "reason"}], written by the compose step; None until ranked.
    # none_as_null: Python None must be SQL NULL ("not picked yet"), never JSON 'null',
    # or the `papers IS NULL` guards of the claim and pick steps would miss it.
    papers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    provider_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id", name="uq_delivery_edition_subscriber"),
        Index("ix_deliveries_edition_state", "edition_id", "state"),
        # Send rate and bounce-rate denominators (operator views, /metrics).
        Index("ix_deliveries_sent_at", "sent_at"),
    )


class Suppression(Base):
    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmailEvent(Base):
    __tablename__ = "email_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SNS MessageId: notifications arrive at least once; this dedupes them.
    notification_id: Mapped[str] = mapped_column(String(255), unique=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Bounce and complaint rates count recent events of one type.
    __table_args__ = (Index("ix_email_events_type_received", "event_type", "received_at"),)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Per-entry problems ({"id": ..., "error": ...}) of a partly good run.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class TextEmbedding(Base):
    """A reader's keyword or description embedded once, shared by every reader who wrote it."""

    __tablename__ = "text_embeddings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    # sha256 of the text: the lookup key, as texts may be longer than an index allows.
    digest: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("model", "digest", name="uq_text_embedding"),)


class ServiceState(Base):
    """Operator state that must survive restarts (e.g. the send circuit breaker)."""

    __tablename__ = "service_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MailState(enum.StrEnum):
    """Where one transactional email stands; `pending` -> `sending` is the claim."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # the address was blocked before the email went out
    UNCERTAIN = "uncertain"  # the provider may have taken it: never sent again


class TransactionalMail(Base):
    """One confirmation, welcome, goodbye or change-of-address email, queued by a page.

    The row is the email's idempotency key: the task that sends it claims the row with
    a conditional update, so a task run twice (redelivered, retried) mails once.
    """

    __tablename__ = "transactional_mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    # The address to mail: the subscriber's, or the new one a change of address names.
    recipient: Mapped[str] = mapped_column(String(320))
    # A confirm email's link applies this signup form's choices (a SignupRequest id;
    # not a foreign key: the confirmation deletes the request, the email stays).
    signup_request_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=MailState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]

    # Outgoing emails per window (the signup caps) count recent rows.
    __table_args__ = (Index("ix_transactional_mails_created_at", "created_at"),)


class RateCounter(Base):
    """Hits of one key in one fixed window (the signup caps on the embedded default).

    With Redis configured the counters live there instead; rows are deleted once their
    window has ended.
    """

    __tablename__ = "rate_counters"

    # "<cap>:<keyed hash of the client or mailbox>:<window number>": no address stored.
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    window_ends: Mapped[datetime] = mapped_column(index=True)


class AdminAction(Base):
    """One thing an operator did on /admin (pause, retry, suppress...): who, when, what.

    `target` names what it was done to ("edition 3", "subscriber 42"), never an address:
    a reader who is later erased must not live on in this log.
    """

    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))  # the admin user and client address
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
