"""The shared HTTP client: retries with backoff, Retry-After, timeouts, conditional GETs."""

from __future__ import annotations

import time

import pytest

from newsletter.config import get_settings
from newsletter.ingest.http import HttpClient, PermanentFetchError, TransientFetchError
from tests.ingest.server import FixtureServer, Reply


def client(**overrides: object) -> HttpClient:
    settings = get_settings()
    options: dict[str, object] = {
        "user_agent": settings.http_user_agent,
        "timeout": 5.0,
        "retries": 3,
        "backoff": 0.0,
        "min_interval": 0.0,
    }
    options.update(overrides)
    return HttpClient(**options)  # type: ignore[arg-type]


def test_a_429_and_a_503_are_retried_until_the_source_answers(server: FixtureServer):
    server.script(
        "/feed",
        Reply(b"slow down", status=429, headers={"Retry-After": "0"}),
        Reply(b"busy", status=503),
        Reply(b"<ok/>"),
    )
    with client() as http:
        fetched = http.get(server.url + "/feed")
    assert fetched.content == b"<ok/>"
    assert len(server.hits("/feed")) == 3


def test_retry_after_is_honoured(server: FixtureServer):
    server.script("/feed", Reply(b"", status=503, headers={"Retry-After": "1"}), Reply(b"<ok/>"))
    started = time.monotonic()
    with client() as http:
        http.get(server.url + "/feed")
    # Measured on the client: the server's clock would see a late first request.
    assert time.monotonic() - started >= 1.0
    assert len(server.hits("/feed")) == 2


def test_a_source_that_stays_down_is_a_transient_error(server: FixtureServer):
    server.script("/feed", Reply(b"down", status=503))
    with client(retries=2) as http, pytest.raises(TransientFetchError, match="HTTP 503"):
        http.get(server.url + "/feed")
    assert len(server.hits("/feed")) == 3


def test_a_404_is_permanent_and_not_retried(server: FixtureServer):
    server.script("/feed", Reply(b"no", status=404))
    with client() as http, pytest.raises(PermanentFetchError, match="HTTP 404"):
        http.get(server.url + "/feed")
    assert len(server.hits("/feed")) == 1


def test_a_slow_answer_times_out_and_the_retry_succeeds(server: FixtureServer):
    server.script("/feed", Reply(b"late", delay=1.5), Reply(b"<ok/>"))
    with client(timeout=0.3) as http:
        assert http.get(server.url + "/feed").content == b"<ok/>"


def test_a_source_that_never_answers_in_time_is_a_transient_error(server: FixtureServer):
    server.script("/feed", Reply(b"late", delay=1.0))
    with client(timeout=0.2, retries=1) as http, pytest.raises(TransientFetchError):
        http.get(server.url + "/feed")


def test_a_closed_port_is_a_transient_error():
    with client(retries=0) as http, pytest.raises(TransientFetchError, match="cannot connect"):
        http.get("http://127.0.0.1:9/feed")


def test_requests_say_who_we_are(server: FixtureServer):
    server.script("/feed", Reply(b"<ok/>"))
    with client() as http:
        http.get(server.url + "/feed")
    agent = server.hits("/feed")[0].headers["User-Agent"]
    assert agent.startswith("paper-newsletter/") and "mailto:" in agent


def test_validators_make_the_request_conditional(server: FixtureServer):
    server.script(
        "/feed",
        Reply(
            b"<v1/>",
            headers={"ETag": '"abc"', "Last-Modified": "Wed, 25 Nov 2026 05:00:00 GMT"},
        ),
        Reply(b"", status=304),
    )
    with client() as http:
        first = http.get(server.url + "/feed")
        second = http.get(
            server.url + "/feed",
            validators={"etag": first.etag or "", "last_modified": first.last_modified or ""},
        )
    assert second.not_modified and second.content == b""
    headers = server.hits("/feed")[1].headers
    assert headers["If-None-Match"] == '"abc"'
    assert headers["If-Modified-Since"] == "Wed, 25 Nov 2026 05:00:00 GMT"


def test_consecutive_requests_to_one_host_keep_the_minimum_interval(server: FixtureServer):
    server.script("/feed", Reply(b"<ok/>"))
    started = time.monotonic()
    with client(min_interval=0.25) as http:
        for _ in range(3):
            http.get(server.url + "/feed")
    assert time.monotonic() - started >= 0.5
    assert len(server.hits("/feed")) == 3


def test_even_the_first_retry_waits_the_minimum_interval(server: FixtureServer):
    server.script("/feed", Reply(b"busy", status=503), Reply(b"<ok/>"))
    started = time.monotonic()
    with client(min_interval=0.4) as http:
        http.get(server.url + "/feed")
    assert time.monotonic() - started >= 0.4
    assert len(server.hits("/feed")) == 2


def test_the_interval_is_shared_through_redis_by_every_worker_process(
    server: FixtureServer, redis_url: str
):
    import redis

    server.script("/feed", Reply(b"<ok/>"))
    host = server.url.removeprefix("http://")
    shared = redis.Redis.from_url(redis_url)
    # Another process has just sent a request to this host.
    shared.set(f"newsletter:ingest:throttle:{host}", "1", px=400)
    started = time.monotonic()
    with client(min_interval=0.4, redis_url=redis_url) as http:
        http.get(server.url + "/feed")
    assert time.monotonic() - started >= 0.3
    # And now this process holds the turn for the next one.
    assert 0 < shared.pttl(f"newsletter:ingest:throttle:{host}") <= 400
    shared.close()


def test_an_unreachable_redis_falls_back_to_the_local_interval(server: FixtureServer):
    server.script("/feed", Reply(b"<ok/>"))
    started = time.monotonic()
    with client(min_interval=0.2, redis_url="redis://127.0.0.1:1/0") as http:
        http.get(server.url + "/feed")
        http.get(server.url + "/feed")
    assert time.monotonic() - started >= 0.2
