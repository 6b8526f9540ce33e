"""Send through Amazon SES v2 with Raw content, so our headers go out as we built them."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from newsletter.delivery.base import (
    AccountSendError,
    OutgoingEmail,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

_TRANSIENT = {
    "TooManyRequestsException",
    "Throttling",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
}
_ACCOUNT = {
    "SendingPausedException",
    "AccountSuspendedException",
    "MailFromDomainNotVerifiedException",
    "LimitExceededException",
}


class SesSender:
    name = "ses"

    def __init__(
        self,
        *,
        region: str,
        sender: str,
        endpoint_url: str | None = None,
        configuration_set: str | None = None,
        client: Any = None,
    ) -> None:
        self.sender = sender
        self.configuration_set = configuration_set
        # Retries are ours (the task layer backs off and honours the shared rate limit),
        # so botocore must not retry behind our back and double the request rate.
        self.client = client or boto3.client(
            "sesv2",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20
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
        if email.tags:
            request["EmailTags"] = [{"Name": k, "Value": v} for k, v in email.tags.items()]
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            raise classify_client_error(exc) from exc
        except (ConnectionError, ReadTimeoutError, BotoCoreError) as exc:
            raise TransientSendError(f"SES unreachable: {exc}") from exc
        return SendResult(message_id=response["MessageId"])


def classify_client_error(exc: ClientError) -> Exception:
    """Map an SES error to transient (retry), account-level (stop) or permanent (give up)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    text = f"{code}: {message}"
    if code in _TRANSIENT or status == 429 or status >= 500:
        retry_after = (
            exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
        )
        return TransientSendError(text, float(retry_after) if retry_after else None)
    if code in _ACCOUNT or ("not verified" in message.lower() and "identity" in message.lower()):
        return AccountSendError(text)
    if "daily message quota" in message.lower() or "maximum sending rate" in message.lower():
        return AccountSendError(text)
    return PermanentSendError(text)
