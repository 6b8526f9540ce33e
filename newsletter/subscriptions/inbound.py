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

import json
import re
from email import message_from_string
from email.policy import default as default_policy
from typing import Any

# "unsubscribe TOKEN", anywhere in the subject: replies add "Re:", some clients "Fwd:".
_REQUEST = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_\-.]{20,})", re.IGNORECASE)


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


def _subject(payload: dict[str, Any]) -> str:
    mail = payload.get("mail")
    headers = mail.get("commonHeaders") if isinstance(mail, dict) else None
    subject = headers.get("subject") if isinstance(headers, dict) else None
    if isinstance(subject, str):
        return subject
    # Without common headers (truncated ones), read the raw message an SNS action carries.
    content = payload.get("content")
    if isinstance(content, str):
        return str(message_from_string(content, policy=default_policy).get("Subject") or "")
    return ""
