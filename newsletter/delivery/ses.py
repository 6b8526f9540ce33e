"""Send through Amazon SES v2 with Raw content, so our headers go out as we built them."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)

from newsletter.delivery.base import (
    AccountSendError,
    OutgoingEmail,
    PermanentSendError,
    QuotaSendError,
    SendResult,
    TransientSendError,
    UncertainSendError,
)
from newsletter.metrics import provider_call

_TRANSIENT = {
    "TooManyRequestsException",
    "Throttling",
    "ThrottlingException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "RequestTimeout",
}
# The account (not this message) cannot send: every further message would fail alike.
_ACCOUNT = {
    "SendingPausedException",
    "AccountSuspendedException",
    "MailFromDomainNotVerifiedException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "NotFoundException",  # e.g. the configured configuration set does not exist
}


class SesSender:
    name = "ses"
    # boto3 clients are thread-safe: a worker keeps several requests in flight on one.
    concurrent = True

    def __init__(
        self,
        *,
        region: str,
        sender: str,
        endpoint_url: str | None = None,
        configuration_set: str | None = None,
        tags: dict[str, str] | None = None,
        timeout: float = 20.0,
        connections: int = 4,
        client: Any = None,
    ) -> None:
        self.sender = sender
        self.sender_address = sender.rsplit("<", 1)[-1].rstrip(">").strip().lower()
        self.configuration_set = configuration_set
        self.tags = dict(tags or {})
        # Retries are ours (the task layer backs off and honours the shared rate limit),
        # so botocore must not retry behind our back and double the request rate.
        self.client = client or boto3.client(
            "sesv2",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=min(5.0, timeout),
                read_timeout=timeout,
                # One per request in flight, and one for GetAccount beside them.
                max_pool_connections=connections + 1,
            ),
        )

    def send(self, email: OutgoingEmail) -> SendResult:
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [email.recipient]},
            "Content": {"Raw": {"Data": email.raw}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        tags = {**self.tags, **email.tags}
        if tags:
            request["EmailTags"] = [{"Name": k, "Value": v} for k, v in tags.items()]
        try:
            with provider_call("ses"):
                response = self.client.send_email(**request)
        except ClientError as exc:
            raise classify_client_error(exc, self.sender_address) from exc
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            # The request was sent and no answer came: SES may have taken it, and it
            # dedupes nothing, so a retry could mail the reader twice.
            raise UncertainSendError(f"no answer from SES: {exc}") from exc
        except BotoCoreError as exc:
            # Connection refused, connect timeout, DNS: the request never reached SES.
            raise TransientSendError(f"SES unreachable: {exc}") from exc
        return SendResult(message_id=response["MessageId"])

    def account(self) -> dict[str, Any]:
        """Return GetAccount's figures (send quota, max rate, whether sending is enabled)."""
        try:
            response = self.client.get_account()
        except ClientError as exc:
            raise classify_client_error(exc, self.sender_address) from exc
        except BotoCoreError as exc:
            raise TransientSendError(f"SES unreachable: {exc}") from exc
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def classify_client_error(exc: ClientError, sender_address: str = "") -> Exception:
    """Map an SES error to transient (retry), account-level (stop) or permanent (give up)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))
    lowered = message.lower()
    metadata = exc.response.get("ResponseMetadata", {})
    status = int(metadata.get("HTTPStatusCode", 0) or 0)
    text = f"{code}: {message}" if code else message
    if (
        "daily message quota" in lowered
        or "sending quota" in lowered
        or (code == "LimitExceededException" and "quota" in lowered)
    ):
        return QuotaSendError(text)
    if code in _TRANSIENT or status == 429 or status >= 500 or "maximum sending rate" in lowered:
        retry_after = metadata.get("HTTPHeaders", {}).get("retry-after")
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return TransientSendError(text, seconds)
    if code in _ACCOUNT or code == "LimitExceededException":
        return AccountSendError(text)
    if "not verified" in lowered and _names_sender(lowered, sender_address):
        # Our own From identity is unverified: no message can go out.
        return AccountSendError(text)
    return PermanentSendError(text)


def _names_sender(message: str, sender_address: str) -> bool:
    if not sender_address:
        return "identit" in message
    domain = sender_address.rsplit("@", 1)[-1]
    return sender_address in message or domain in message
