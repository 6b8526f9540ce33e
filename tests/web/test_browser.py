"""A person in headless Chromium against a real uvicorn server: sign up, confirm, tune, leave.

The server runs as its own process on a free port with the test's SQLite database and
outbox; links are followed from the .eml files the file backend wrote, as a reader
would from their inbox. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from newsletter import db as dbmod
from newsletter.db import session_scope
from newsletter.models import Feedback, Subscriber, SubscriberStatus
from newsletter.subscriptions.service import preferences_of
from tests.services import service_missing
from tests.subscriptions.factories import make_sent_digest, outbox_messages, text_of

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ADMIN_PASSWORD = "browser-test-password"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    outbox: Path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Start `newsletter web` once per module on a free port, with its own database and outbox."""
    from tests.conftest import BASE_ENV

    root = tmp_path_factory.mktemp("live")
    port = free_port()
    live = LiveServer(f"http://127.0.0.1:{port}", f"sqlite:///{root / 'web.db'}", root / "outbox")
    dbmod.upgrade(live.database_url)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSLETTER_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(BASE_ENV)
    env.update(
        {
            "NEWSLETTER_BASE_URL": live.url,
            "DATABASE_URL": live.database_url,
            "NEWSLETTER_OUTBOX": str(live.outbox),
            "NEWSLETTER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PYTHONPATH": str(ROOT),
        }
    )
    log_path = root / "uvicorn.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        # Through the CLI operators use, so `newsletter web` itself is exercised.
        [sys.executable, "-m", "newsletter.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(log_path.read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{live.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start in 60 s")
            time.sleep(0.2)
        yield live
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def server(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    """Point this test process at the live server's database and outbox."""
    from tests.conftest import _reset_process_state

    monkeypatch.setenv("DATABASE_URL", live_server.database_url)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(live_server.outbox))
    _reset_process_state()
    return live_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        service_missing("Chromium", FileNotFoundError(CHROMIUM))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        service_missing("the playwright package", exc)
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # a broken Chromium install is a missing service
            service_missing("Chromium", exc)
        yield instance
        instance.close()


def one(session: Session, address: str) -> Subscriber:
    return session.query(Subscriber).filter_by(email=address).one()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_horizontal_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_a_person_signs_up_confirms_tunes_preferences_and_unsubscribes(
    browser: Any, server: LiveServer
):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo", locale="en-GB"
    )
    page = context.new_page()
    page.goto(f"{server.url}/signup")
    # The inline script picked the browser's timezone.
    assert page.locator("#timezone").input_value() == "Asia/Tokyo"
    assert no_horizontal_overflow(page)
    shot(page, "01-signup-phone")
    page.fill("#email", "grace@example.org")
    page.fill("#keywords", "test-time adaptation, diffusion")
    page.check("input[name=categories][value='cs.CV']")
    page.fill("#description", "robust vision models")
    page.select_option("#hour", "8")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/signup/sent")
    assert "Check your inbox" in page.content()
    shot(page, "02-check-inbox")

    # From the inbox: the confirmation link, opened, then the button pressed.
    [confirmation] = outbox_messages(server.outbox, "grace@example.org")
    confirm_url = next(w for w in text_of(confirmation).split() if "/confirm/" in w)
    page.goto(confirm_url)
    shot(page, "03-confirm")
    with session_scope() as session:
        assert one(session, "grace@example.org").status == SubscriberStatus.PENDING
    page.click("text=Yes, confirm my subscription")
    page.wait_for_selector("text=You're subscribed")
    shot(page, "04-subscribed")
    with session_scope() as session:
        subscriber = one(session, "grace@example.org")
        assert subscriber.status == SubscriberStatus.ACTIVE
        assert subscriber.timezone == "Asia/Tokyo" and subscriber.send_hour == 8
        subscriber_id = subscriber.id
    make_sent_digest(subscriber_id, [("2411.00001", "Diffusion for test-time adaptation")])

    page.click("text=See or change your preferences")
    page.wait_for_selector("h1:has-text('Your digest')")
    assert "Diffusion for test-time adaptation" in page.content()
    assert no_horizontal_overflow(page)
    page.click("button:has-text('Like')")
    page.wait_for_selector("text=Thanks: later digests take this into account.")
    page.fill("#keywords", "graph neural networks")
    page.check("input[name=frequency][value=weekly]")
    page.select_option("#weekday", "2")
    page.fill("#max_papers", "5")
    page.check("input[name=format][value=text]")
    page.click("button:has-text('Save preferences')")
    page.wait_for_selector("text=Saved.")
    assert "Wednesday" in page.content()
    shot(page, "05-preferences-saved")
    with session_scope() as session:
        subscriber = session.get_one(Subscriber, subscriber_id)
        prefs = preferences_of(subscriber)
        assert list(prefs.keywords) == ["graph neural networks"]
        assert (subscriber.frequency, subscriber.weekday, subscriber.max_papers) == (
            "weekly",
            2,
            5,
        )
        assert subscriber.format == "text"
        feedback = session.query(Feedback).filter_by(subscriber_id=subscriber_id)
        assert [(f.arxiv_id, f.kind) for f in feedback] == [("2411.00001", "liked")]

    page.click("text=Unsubscribe")
    page.wait_for_selector("button:has-text('Unsubscribe')")
    shot(page, "06-unsubscribe")
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You're unsubscribed")
    shot(page, "07-unsubscribed")
    with session_scope() as session:
        assert session.get_one(Subscriber, subscriber_id).status == SubscriberStatus.UNSUBSCRIBED
    subjects = [m["Subject"] for m in outbox_messages(server.outbox, "grace@example.org")]
    assert subjects == [
        "Confirm your subscription to trending papers",
        "Welcome to your trending-papers digest",
        "You're unsubscribed",
    ]
    context.close()


def test_the_form_works_without_javascript_and_keeps_input_after_an_error(
    browser: Any, server: LiveServer
):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1024, "height": 900}
    )
    page = context.new_page()
    page.goto(f"{server.url}/signup")
    assert page.locator("#timezone").input_value() == "UTC"  # the server's default
    page.fill("#email", "not an address")
    page.fill("#keywords", "optimal transport")
    page.select_option("#timezone", "Europe/Paris")
    page.click("button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert "Enter a valid email address" in page.content()
    assert page.locator("#keywords").input_value() == "optimal transport"
    assert page.locator("#timezone").input_value() == "Europe/Paris"
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    shot(page, "08-signup-error-no-js")
    page.fill("#email", "linus@example.org")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/signup/sent")
    with session_scope() as session:
        assert one(session, "linus@example.org").timezone == "Europe/Paris"
    context.close()


def test_pages_follow_the_readers_dark_mode_and_fit_a_small_phone(browser: Any, server: LiveServer):
    context = browser.new_context(color_scheme="dark", viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(f"{server.url}/signup")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 22, 26)"
    assert no_horizontal_overflow(page)
    shot(page, "09-signup-dark-320")
    context.close()


def test_an_operator_signs_in_to_admin_and_sees_every_section(browser: Any, server: LiveServer):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}/admin", timeout=10)
    assert refused.value.code == 401
    context = browser.new_context(
        http_credentials={"username": "admin", "password": ADMIN_PASSWORD},
        viewport={"width": 1024, "height": 900},
    )
    page = context.new_page()
    page.goto(f"{server.url}/admin")
    for heading in ("Queues", "Workers", "Current editions", "Sending", "Ingest runs"):
        assert page.locator(f"h2:has-text('{heading}')").count() == 1
    assert no_horizontal_overflow(page)
    shot(page, "10-admin")
    context.close()
