"""What every fault test needs: workers on SES, a fake beat, a throwaway Redis, a verdict."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import Delivery, DeliveryState, Subscriber
from newsletter.timeutil import utcnow
from tests.delivery.helpers import recipients_of
from tests.sesproxy import SES_ENV, SesStack

# Short clocks so a fault heals within seconds: a claim lasts 4 s, a lost task message is
# noticed after 3 s, throttled sends back off at most 1 s.
FAST_ENV = {
    "NEWSLETTER_SEND_LEASE_SECONDS": "4",
    "NEWSLETTER_REQUEUE_AFTER_SECONDS": "3",
    "NEWSLETTER_SEND_RETRY_MAX_SECONDS": "1",
    "NEWSLETTER_SES_TIMEOUT": "3",
    "NEWSLETTER_SEND_ON_QUIET_DAYS": "true",
}


def worker_env(ses: SesStack, **extra: str) -> dict[str, str]:
    return {**SES_ENV, **FAST_ENV, "NEWSLETTER_SES_ENDPOINT_URL": ses.url, **extra}


@dataclass
class Beat:
    """Enqueue plan_due every `every` seconds from a thread, like celery beat would."""

    every: float = 1.0
    now: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    errors: int = 0

    def start(self) -> Beat:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from workers.tasks import plan_due

        while not self._stop.is_set():
            try:
                plan_due.delay(self.now or utcnow().isoformat())
            except Exception:  # the broker may be down on purpose
                self.errors += 1
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> Beat:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def settled() -> bool:
    """No delivery is pending or mid-send."""
    with session_scope() as session:
        busy = session.scalar(
            select(Delivery.id).where(
                Delivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING])
            )
        )
        return busy is None


def final_count() -> int:
    """Return how many deliveries exist once none is pending or mid-send, else -1."""
    with session_scope() as session:
        rows = session.execute(select(Delivery.state)).scalars().all()
    if any(state in (DeliveryState.PENDING, DeliveryState.SENDING) for state in rows):
        return -1
    return len(rows)


def sent_count() -> int:
    with session_scope() as session:
        return len(session.scalars(select(Delivery.id).where(Delivery.state == "sent")).all())


@dataclass
class Verdict:
    states: Counter[str]
    duplicates: list[str]
    missing: list[str]
    uncertain: list[str]


def verdict(ses: SesStack) -> Verdict:
    """Compare moto's sent mail with the Delivery rows: who got too many, who too few.

    A reader may have several deliveries (several editions); moto must hold exactly one
    message per `sent` row, and at most one per `uncertain` row.
    """
    received = recipients_of(ses.sent())
    with session_scope() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.state).join(
                Delivery, Delivery.subscriber_id == Subscriber.id
            )
        ).all()
    states = Counter(str(state) for _, state in rows)
    sent = Counter(a for a, s in rows if s == DeliveryState.SENT)
    maybe = Counter(a for a, s in rows if s == DeliveryState.UNCERTAIN)
    duplicates = sorted(a for a, n in received.items() if n > sent[a] + maybe[a])
    missing = sorted(a for a in sent if received[a] < sent[a])
    missing += sorted(a for a, s in rows if s not in (DeliveryState.SENT, DeliveryState.UNCERTAIN))
    return Verdict(states, duplicates, missing, sorted(maybe))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayRedis:
    """Our own redis-server on a free port (never the machine's shared one)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self, down_for: float = 1.0) -> None:
        """Kill -9 and start again on the same port: everything queued is lost."""
        self.kill()
        time.sleep(down_for)
        self.start()
