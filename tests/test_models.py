"""The schema, on SQLite and PostgreSQL: migrations, round trips, uniqueness."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError

from newsletter import db
from newsletter.editions import plan_deliveries
from newsletter.models import (
    Base,
    Delivery,
    DeliveryState,
    Edition,
    Interest,
    Paper,
    Subscriber,
    Suppression,
)
from newsletter.site.search import include_object
from newsletter.subscriptions.service import Preferences, add_subscriber
from newsletter.timeutil import as_utc


def test_the_migration_creates_exactly_the_modelled_schema(db_url: str):
    engine = create_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_twice_is_harmless_and_downgrade_round_trips(db_url: str):
    db.upgrade(db_url)
    db.downgrade(db_url, "base")
    engine = create_engine(db_url)
    assert "papers" not in inspect(engine).get_table_names()
    db.upgrade(db_url)
    assert "deliveries" in inspect(engine).get_table_names()
    engine.dispose()


def test_a_paper_round_trips_with_its_json_and_times(db_url: str):
    published = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    with db.session_scope() as session:
        session.add(
            Paper(
                arxiv_id="2411.01234",
                version=2,
                title="Título ünïcode",
                abstract="A",
                authors=[{"name": "Ada", "affiliation": "Analytical Engines"}],
                categories=["cs.LG", "stat.ML"],
                published_at=published,
                sources=["arxiv"],
            )
        )
    with db.session_scope() as session:
        paper = session.scalars(select(Paper)).one()
        assert paper.title == "Título ünïcode"
        assert paper.authors == [{"name": "Ada", "affiliation": "Analytical Engines"}]
        assert paper.categories == ["cs.LG", "stat.ML"]
        assert paper.published_at is not None
        assert as_utc(paper.published_at) == published


def test_two_papers_cannot_share_an_arxiv_id(db_url: str):
    with db.session_scope() as session:
        session.add(Paper(arxiv_id="2411.01234", title="one"))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(Paper(arxiv_id="2411.01234", title="two"))


def test_an_email_address_subscribes_once(db_url: str):
    with db.session_scope() as session:
        session.add(Subscriber(email="a@example.org"))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(Subscriber(email="a@example.org"))


def test_a_suppressed_address_is_recorded_once(db_url: str):
    with db.session_scope() as session:
        session.add(Suppression(email="a@example.org", reason="bounce"))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(Suppression(email="a@example.org", reason="complaint"))


def test_one_delivery_per_edition_and_subscriber_is_what_makes_sends_idempotent(db_url: str):
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    with db.session_scope() as session:
        subscriber = Subscriber(email="a@example.org", status="active")
        edition = Edition(
            key="daily-2026-11-26", frequency="daily", window_start=now, window_end=now
        )
        session.add_all([subscriber, edition])
        session.flush()
        session.add(Delivery(edition_id=edition.id, subscriber_id=subscriber.id))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(Delivery(edition_id=edition.id, subscriber_id=subscriber.id))


def test_planning_twice_creates_each_delivery_once(db_url: str):
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    with db.session_scope() as session:
        for n in range(3):
            add_subscriber(
                session,
                f"r{n}@example.org",
                Preferences(timezone="Europe/Paris", send_hour=8),
                confirmed=True,
            )
    with db.session_scope() as session:
        first = plan_deliveries(session, now)
    with db.session_scope() as session:
        second = plan_deliveries(session, now)
        states = session.scalars(select(Delivery.state)).all()
    assert len(first) == 3
    assert second == []
    assert states == [DeliveryState.PENDING] * 3


def test_deleting_a_subscriber_removes_their_interests(db_url: str):
    with db.session_scope() as session:
        add_subscriber(session, "a@example.org", Preferences(keywords=["graphs", "sparsity"]))
    with db.session_scope() as session:
        session.delete(session.scalars(select(Subscriber)).one())
    with db.session_scope() as session:
        assert session.scalars(select(Interest)).all() == []
