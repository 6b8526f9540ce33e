"""Real services for tests: PostgreSQL databases, Redis databases, Celery worker processes.

When a service is missing, a test skips on a developer machine but FAILS in CI
(CI=true), so a broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def service_missing(what: str, error: BaseException) -> None:
    message = f"{what} is not available: {error}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message} (CI=true: tests needing it must not skip)", pytrace=False)
    pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its URL, drop it afterwards."""
    name = f"newsletter_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        service_missing("PostgreSQL", exc)
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_OWNER_KEY = "__newsletter_test_owner__"


def free_redis_db() -> str:
    """Claim an unused Redis logical database (1-15) for this test, emptied.

    Parallel test runs (or helpers) each hold a different index; the claim key expires
    on its own if a run dies without releasing it.
    """
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        for index in range(1, 16):
            url = f"{REDIS_BASE_URL}/{index}"
            client = redis.Redis.from_url(url, socket_connect_timeout=2)
            try:
                if client.set(_OWNER_KEY, owner, nx=True, ex=1800):
                    client.flushdb()
                    client.set(_OWNER_KEY, owner, ex=1800)
                    return url
            finally:
                client.close()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    service_missing("Redis", RuntimeError("all logical databases 1-15 are in use"))
    raise AssertionError("unreachable")


def release_redis_db(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


class WorkerProcess:
    """A real `celery worker` subprocess consuming the named queues, supervised.

    Like the process manager that runs the Procfile in production (systemd, honcho,
    a platform), a supervisor thread starts the worker again if it exits on its own.
    This matters: kombu's Redis transport can crash a worker with "Unrecoverable error:
    AttributeError('NoneType' object has no attribute 'hostname')" when the broker
    vanishes mid-restore (celery/kombu#582, #970), and deployments rely on a restart.
    Exits the test asked for (`kill`, `stop`) are never restarted.
    """

    def __init__(self, env: dict[str, str], queues: str, concurrency: int, log: Path) -> None:
        self.log = log
        self.env = env
        self.queues = queues
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._wanted = threading.Event()
        self._lock = threading.Lock()

    def _spawn(self) -> subprocess.Popen[bytes]:
        name = f"w{uuid.uuid4().hex[:6]}@%h"
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.app",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "-n",
                name,
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> WorkerProcess:
        self._log_file = self.log.open("ab")
        self.process = self._spawn()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-3000:]}")
            if b" ready." in self.log.read_bytes():
                self._wanted.set()
                threading.Thread(target=self._supervise, daemon=True).start()
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker did not become ready:\n{self.log.read_text()[-3000:]}")

    def _supervise(self) -> None:
        while self._wanted.is_set():
            with self._lock:
                process = self.process
                if process is not None and process.poll() is not None and self._wanted.is_set():
                    self.restarts += 1
                    self._log_file.write(b"\n[supervisor] worker exited on its own; restarting\n")
                    self._log_file.flush()
                    self.process = self._spawn()
            time.sleep(0.5)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole worker process group (parent and pool children)."""
        with self._lock:
            self._wanted.clear()
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        with self._lock:
            self._wanted.clear()
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()
