"""A fault-injecting HTTP proxy between boto3 and moto, on 127.0.0.1.

moto has no throttling and no sesv2 GetAccount, so this proxy:
- serves GET /v2/email/account with the quota the test sets;
- answers SendEmail with 429 / 5xx / account-level errors / a hang, on cue, so the
  retry, backoff, uncertain and circuit-breaker paths run over real HTTP;
- forwards everything else to moto and records when each SendEmail went through
  (the rate limiter test measures the fleet's rate here);
- or answers SendEmail itself after a set delay (`answer_sends`), fixed or jittered, so
  a bench measures our cost against a realistic SES round trip and not moto's CPU.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"


@dataclass
class Fault:
    """What to answer instead of forwarding: an HTTP error, or a hang of `hang` seconds."""

    status: int = 429
    code: str = "TooManyRequestsException"
    message: str = "Maximum sending rate exceeded."
    hang: float = 0.0
    forward_first: bool = False  # hang *after* moto accepted (the ambiguous case)


@dataclass
class ProxyState:
    account: dict[str, Any] = field(
        default_factory=lambda: {
            "SendQuota": {"Max24HourSend": -1.0, "MaxSendRate": 1000.0, "SentLast24Hours": 0.0},
            "SendingEnabled": True,
            "ProductionAccessEnabled": True,
            "EnforcementStatus": "HEALTHY",
            "DedicatedIpAutoWarmupEnabled": False,
        }
    )
    faults: list[Fault] = field(default_factory=list)  # answered one per request, in order
    fault_until: float = 0.0  # answer `standing` to every send until this monotonic time
    standing: Fault | None = None
    sent_at: list[float] = field(default_factory=list)  # forwarded sends moto accepted
    last_send: dict[str, Any] = field(default_factory=dict)  # the last SendEmail request
    faulted: int = 0
    account_calls: int = 0
    # Answer SendEmail ourselves instead of forwarding (moto's CPU would otherwise
    # dominate a rate measurement on a small machine).
    sink: bool = False
    # How long the proxy takes to answer a SendEmail it answers itself: `latency`
    # seconds plus a uniform extra of up to `jitter` (SES's round trip, ~20-80 ms).
    latency: float = 0.0
    jitter: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _QuietServer(ThreadingHTTPServer):
    """Say nothing when a client drops its kept-alive connection (a worker stopping)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SesProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.state = ProxyState()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, the client's
            # delayed ACK adds ~40 ms to every request.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                if self.path.split("?")[0] == ACCOUNT_PATH:
                    with proxy.state.lock:
                        proxy.state.account_calls += 1
                        body = json.dumps(proxy.state.account).encode()
                    self._answer(200, body, {"Content-Type": "application/json"})
                    return
                self._forward(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.split("?")[0] != SEND_PATH:
                    self._forward(body)
                    return
                with proxy.state.lock:
                    proxy.state.last_send = json.loads(body or b"{}")
                fault = proxy._next_fault()
                if fault is None and proxy.state.sink:
                    # Stamped on arrival: SES counts a request against the rate then.
                    with proxy.state.lock:
                        proxy.state.sent_at.append(time.monotonic())
                    delay = proxy.state.latency + random.uniform(0.0, proxy.state.jitter)
                    if delay > 0:
                        time.sleep(delay)
                    answer = json.dumps({"MessageId": f"sink-{uuid.uuid4()}"}).encode()
                    self._answer(200, answer, {"Content-Type": "application/json"})
                    return
                if fault is None:
                    status = self._forward(body)
                    if status == 200:
                        with proxy.state.lock:
                            proxy.state.sent_at.append(time.monotonic())
                    return
                with proxy.state.lock:
                    proxy.state.faulted += 1
                if fault.hang:
                    if fault.forward_first:
                        self._forward(body, reply=False)
                    time.sleep(fault.hang)
                    self.close_connection = True
                    return
                error = {"__type": fault.code, "message": fault.message}
                self._answer(
                    fault.status,
                    json.dumps(error).encode(),
                    {"Content-Type": "application/json", "x-amzn-ErrorType": fault.code},
                )

            def do_DELETE(self) -> None:
                self._forward(b"")

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._forward(self.rfile.read(length))

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            _upstream: http.client.HTTPConnection | None = None

            def _forward(self, body: bytes, reply: bool = True) -> int:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                # One kept-alive connection to moto per client connection (this thread).
                connection: http.client.HTTPConnection | None = getattr(self, "_upstream", None)
                for attempt in range(2):
                    if connection is None:
                        connection = http.client.HTTPConnection(proxy.upstream, timeout=60)
                        self._upstream = connection
                    try:
                        connection.request(self.command, self.path, body=body, headers=headers)
                        response = connection.getresponse()
                        data = response.read()
                        break
                    except (http.client.HTTPException, OSError):
                        connection.close()
                        connection = None
                        self._upstream = None
                        if attempt:
                            raise
                if reply:
                    passed = {
                        k: v
                        for k, v in response.getheaders()
                        if k.lower() not in {"content-length", "transfer-encoding", "connection"}
                    }
                    self._answer(response.status, data, passed)
                return response.status

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> SesProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- cues -------------------------------------------------------------------

    def answer_sends(self, latency: float = 0.0, jitter: float = 0.0) -> None:
        """Answer every SendEmail here, `latency` (+ up to `jitter`) seconds after it came."""
        if latency < 0 or jitter < 0:
            raise ValueError("latency and jitter are seconds, zero or more")
        with self.state.lock:
            self.state.sink = True
            self.state.latency = latency
            self.state.jitter = jitter

    def fail_next(self, count: int, fault: Fault | None = None) -> None:
        with self.state.lock:
            self.state.faults.extend([fault or Fault()] * count)

    def fail_for(self, seconds: float, fault: Fault | None = None) -> None:
        with self.state.lock:
            self.state.standing = fault or Fault()
            self.state.fault_until = time.monotonic() + seconds

    def heal(self) -> None:
        with self.state.lock:
            self.state.faults.clear()
            self.state.fault_until = 0.0

    def _next_fault(self) -> Fault | None:
        with self.state.lock:
            if self.state.faults:
                return self.state.faults.pop(0)
            if time.monotonic() < self.state.fault_until:
                return self.state.standing
        return None


@dataclass
class SesStack:
    moto_url: str
    proxy: SesProxy

    @property
    def url(self) -> str:
        return self.proxy.url

    def sent(self) -> list[dict[str, Any]]:
        """Every raw message moto accepted (destinations, raw_data, id, source)."""
        data = requests.get(f"{self.moto_url}/moto-api/data.json", timeout=120).json()
        return list(data.get("ses", {}).get("RawMessage", []))


@contextmanager
def ses_stack(domain: str = "papers.example.com") -> Iterator[SesStack]:
    """Start moto on a free port, verify `domain`, put the proxy in front; yield both."""
    import boto3

    # moto logs every request through werkzeug; thousands of lines help nobody.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    client = boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_email_identity(EmailIdentity=domain)
    proxy = SesProxy(moto_url).start()
    try:
        yield SesStack(moto_url, proxy)
    finally:
        proxy.stop()
        server.stop()


SES_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "NEWSLETTER_MAIL_BACKEND": "ses",
}


def reset(stack: SesStack, domain: str = "papers.example.com") -> None:
    """Empty moto (sent mail, identities) and the proxy's cues and records."""
    import boto3

    requests.post(f"{stack.moto_url}/moto-api/reset", timeout=30)
    boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=stack.moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_email_identity(EmailIdentity=domain)
    stack.proxy.heal()
    with stack.proxy.state.lock:
        stack.proxy.state.sent_at.clear()
        stack.proxy.state.faulted = 0
        stack.proxy.state.account_calls = 0
        stack.proxy.state.sink = False
        stack.proxy.state.latency = stack.proxy.state.jitter = 0.0
    stack.proxy.state.account = ProxyState().account


@pytest.fixture(scope="session")
def ses_server() -> Iterator[SesStack]:
    with ses_stack() as stack:
        yield stack


@pytest.fixture
def ses(ses_server: SesStack, monkeypatch: pytest.MonkeyPatch) -> SesStack:
    """An empty moto and a healed proxy; this process sends through them."""
    from newsletter import services
    from newsletter.config import get_settings

    reset(ses_server)
    for name, value in SES_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEWSLETTER_SES_ENDPOINT_URL", ses_server.url)
    monkeypatch.setenv("NEWSLETTER_SEND_ON_QUIET_DAYS", "true")
    get_settings.cache_clear()
    services.reset()
    return ses_server
