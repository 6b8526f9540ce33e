"""Unsubscribe by email: the `mailto:` half of List-Unsubscribe, received through SES.

Every digest's List-Unsubscribe header offers `mailto:SENDER?subject=unsubscribe
TOKEN` beside the one-click https link; some mail programs only use the mailto. With an
SES receipt rule for the sender address whose action publishes to the same SNS topic as
the bounce events, those emails arrive at /webhooks/ses as `Received` notifications,
and this module finds the token in the subject. As with the https link, the signed
token is the authority (it can only stop mail), an old one still works, and acting on
it twice changes nothing: SNS may deliver the notification more than once.
"""

from __future__ import annotations

import base64
import json
import re
from email import message_from_string
from email.policy import default as default_policy
from typing import Any

# "unsubscribe TOKEN", anywhere in the subject: replies add "Re:", some clients "Fwd:".
# Our tokens are URL-safe base64 parts joined by dots, never ending in one, so a full
# stop someone typed after it is not part of it.
# (A leading dot marks a compressed itsdangerous payload.)
_REQUEST = re.compile(r"\bunsubscribe\s+(\.?[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+)", re.IGNORECASE)


def unsubscribe_request(message: str) -> str | None:
    """Return the token of an SES `Received` notification asking to unsubscribe, or None."""
    try:
        payload = json.loads(message)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("notificationType") != "Received":
        return None
    match = _REQUEST.search(_subject(payload))
    return match.group(1) if match else None


def redact(subject: str) -> str:
    """The subject without its token, for storing: the token never expires."""
    return _REQUEST.sub("unsubscribe [token]", subject)


def redacted_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """An SES `Received` notification as we keep it: no raw email, no token."""
    kept = {key: value for key, value in payload.items() if key != "content"}
    mail = kept.get("mail")
    if isinstance(mail, dict):
        mail = dict(mail)
        headers = mail.get("commonHeaders")
        if isinstance(headers, dict) and isinstance(headers.get("subject"), str):
            mail["commonHeaders"] = {**headers, "subject": redact(headers["subject"])}
        if isinstance(mail.get("headers"), list):
            mail["headers"] = [
                {**h, "value": redact(h["value"])}
                if isinstance(h, dict)
                and str(h.get("name", "")).lower() == "subject"
                and isinstance(h.get("value"), str)
                else h
                for h in mail["headers"]
            ]
        kept["mail"] = mail
    return kept


def _subject(payload: dict[str, Any]) -> str:
    mail = payload.get("mail")
    headers = mail.get("commonHeaders") if isinstance(mail, dict) else None
    subject = headers.get("subject") if isinstance(headers, dict) else None
    if isinstance(subject, str):
        return subject
    # Without common headers (truncated ones), read the raw message an SNS action carries.
    content = payload.get("content")
    if not isinstance(content, str):
        return ""
    receipt = payload.get("receipt")
    action = receipt.get("action") if isinstance(receipt, dict) else None
    if isinstance(action, dict) and str(action.get("encoding", "")).upper() == "BASE64":
        try:
            content = base64.b64decode(content).decode("utf-8", "replace")
        except ValueError:
            return ""
    return str(message_from_string(content, policy=default_policy).get("Subject") or "")
