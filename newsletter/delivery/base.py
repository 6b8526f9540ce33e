"""The sender interface and the error types that decide retry versus give up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingEmail:
    """A finished message ready for any backend."""

    delivery_id: int
    recipient: str
    raw: bytes
    html: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the provider told us; `message_id` correlates later bounce/complaint events."""

    message_id: str


class SendError(Exception):
    """Base of all send failures."""


class TransientSendError(SendError):
    """Throttling, timeouts, 5xx: the same message may be tried again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UncertainSendError(SendError):
    """The request went out but no answer came back: the provider may have sent it.

    Retrying could mail the reader twice, so the row becomes `uncertain` for an operator.
    """


class PermanentSendError(SendError):
    """The provider refused this message for good (bad address, rejected content)."""


class AccountSendError(SendError):
    """The account cannot send at all (paused, unverified, quota): stop the send queue."""


class QuotaSendError(AccountSendError):
    """The 24-hour sending quota is used up: pause until the window frees, no retry storm."""


class Sender(Protocol):
    """Sends one finished message; raises a SendError subclass on failure.

    A sender that may be called from several threads at once says so with a class
    attribute `concurrent = True` (SES): a worker then keeps NEWSLETTER_SEND_CONCURRENCY
    requests in flight on it. Without it, messages go out one at a time.
    """

    name: str

    def send(self, email: OutgoingEmail) -> SendResult: ...
