"""Signed, expiring links for preferences, unsubscribe, confirm and view-in-browser.

Each token carries the subscriber's token generation: bumping it (on unsubscribe or on
request) revokes every link issued before.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from newsletter.config import get_settings
from newsletter.models import Subscriber

# How long each kind of link works, in seconds. Unsubscribe links never expire: RFC 8058
# and the bulk-sender rules expect them to keep working for old emails.
MAX_AGE = {
    "confirm": 7 * 24 * 3600,
    # Confirms a new address for an existing subscription; `extra` holds the address.
    "email": 7 * 24 * 3600,
    "preferences": 90 * 24 * 3600,
    "unsubscribe": None,
    "view": None,
    "click": None,
    # "More/Less like this" on a digest card; `extra` is "arxiv_id|more" or "arxiv_id|less".
    "feedback": None,
    # The personal Atom feed: feed readers keep a URL for years; revoked like the others.
    "feed": None,
}


class InvalidToken(ValueError):
    """A link is forged, expired or revoked; the message is safe to show."""


class RevokedToken(InvalidToken):
    """A genuine link whose subscriber is gone or whose generation was bumped."""


@dataclass(frozen=True)
class TokenData:
    purpose: str
    subscriber_id: int
    generation: int
    extra: str = ""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=f"newsletter.{purpose}")


def make_token(purpose: str, subscriber_id: int, generation: int, extra: str = "") -> str:
    if purpose not in MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _serializer(purpose).dumps([subscriber_id, generation, extra])


def read_token(purpose: str, token: str) -> TokenData:
    """Verify `token` for `purpose`; raise InvalidToken with a human message if it fails."""
    try:
        payload = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired:
        raise InvalidToken(
            "This link has expired. Ask for a new one from the signup page."
        ) from None
    except (BadSignature, ValueError, TypeError):
        raise InvalidToken(NOT_VALID) from None
    return TokenData(purpose, *_payload_fields(payload))


NOT_VALID = "This link is not valid. It may have been cut short."
# Ids and generations are database integers: anything outside this range is not ours.
_MAX_INT = 2**31 - 1


def _payload_fields(payload: object) -> tuple[int, int, str]:
    """Check the shape of a signed payload; InvalidToken for anything we never issue.

    The signature proves the secret signed it, not that this code did (an older version,
    another service sharing the key): a wrong shape must be a bad link, not a crash.
    """
    if not isinstance(payload, list) or len(payload) != 3:
        raise InvalidToken(NOT_VALID)
    subscriber_id, generation, extra = payload
    for number in (subscriber_id, generation):
        # bool is an int subclass; JSON true must not pass for 1.
        if type(number) is not int or not 0 <= number <= _MAX_INT:
            raise InvalidToken(NOT_VALID)
    if not isinstance(extra, str):
        raise InvalidToken(NOT_VALID)
    return subscriber_id, generation, extra


def current_subscriber(session: Session, data: TokenData) -> Subscriber:
    """Return the subscriber a verified token names, refusing revoked links."""
    subscriber = session.get(Subscriber, data.subscriber_id)
    if subscriber is None:
        raise RevokedToken("This link is not valid any more.")
    if data.generation != subscriber.token_generation:
        raise RevokedToken(
            "This link was replaced by a newer one. Use the link in your most recent email."
        )
    return subscriber
