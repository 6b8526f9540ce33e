"""Shared fixtures: settings isolation, SQLite and PostgreSQL databases, Redis, workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter import db as dbmod
from newsletter import services
from newsletter.queues import Queue
from tests.services import WorkerProcess, free_redis_db, postgres_database, release_redis_db

BASE_ENV = {
    "NEWSLETTER_SECRET_KEY": "test-secret-key",
    "NEWSLETTER_BASE_URL": "https://papers.test",
    "NEWSLETTER_FROM": "Trending Papers <digest@papers.example.com>",
    "NEWSLETTER_MAIL_BACKEND": "file",
}


def _reset_process_state() -> None:
    services.reset()
    from workers.app import app, reconfigure

    # The test's own Celery app follows the settings too (tests queue through it).
    reconfigure(app)


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Give every test its own settings, outbox and (SQLite) database."""
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name, raising=False)
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    _reset_process_state()
    yield tmp_path / "outbox"
    # Settings may be deliberately invalid here; the next test's setup reconfigures.
    services.reset()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'test.db'}"
    dbmod.upgrade(url)
    return url


@pytest.fixture(scope="session")
def pg_server_db() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole run (tables emptied per test)."""
    with postgres_database() as url:
        dbmod.upgrade(url)
        services.reset()
        yield url


@pytest.fixture
def pg_url(pg_server_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean PostgreSQL database, configured as DATABASE_URL for this test."""
    from sqlalchemy import create_engine, text

    from newsletter.models import Base

    engine = create_engine(pg_server_db)
    with engine.begin() as connection:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", pg_server_db)
    _reset_process_state()
    yield pg_server_db
    _reset_process_state()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on SQLite and once on PostgreSQL (configured as DATABASE_URL)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    url = str(request.getfixturevalue("sqlite_url"))
    monkeypatch.setenv("DATABASE_URL", url)
    _reset_process_state()
    return url


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An emptied Redis database for this test, configured as REDIS_URL."""
    url = free_redis_db()
    monkeypatch.setenv("REDIS_URL", url)
    _reset_process_state()
    yield url
    release_redis_db(url)


@pytest.fixture
def worker_env(pg_url: str, redis_url: str, isolated_settings: Path) -> dict[str, str]:
    """The environment a real worker process runs with (same DB, broker, outbox)."""
    env = {k: v for k, v in os.environ.items()}
    env.update(BASE_ENV)
    env.update(
        {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "NEWSLETTER_OUTBOX": str(isolated_settings),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
    )
    return env


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """Start real Celery workers: `start_worker(queues=..., concurrency=...)`."""
    started: list[WorkerProcess] = []

    def start(
        queues: str = ",".join(queue.value for queue in Queue),
        concurrency: int = 2,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess({**worker_env, **(env or {})}, queues, concurrency, log).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
