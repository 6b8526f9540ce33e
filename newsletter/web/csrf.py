"""CSRF protection for the site's forms: a signed double-submit token.

The browser holds a random value in an HttpOnly cookie; each form carries that value
signed with the secret key (itsdangerous, timestamped). A cross-site page can make a
browser send the cookie but cannot read it, so it cannot produce the matching token.
"""

from __future__ import annotations

import hmac
import re
import secrets

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from newsletter.config import get_settings

COOKIE = "newsletter_csrf"
FIELD = "csrf_token"
# A form left open longer than this must be sent again (we keep what was typed).
MAX_AGE = 24 * 3600
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfError(Exception):
    """The form's token is missing, forged, expired or does not match the cookie."""


class NoCsrfCookie(CsrfError):
    """The browser sent no form cookie at all: cookies are likely blocked."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="newsletter.csrf")


def _cookie_value(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and _COOKIE_VALUE.match(value) else None


def issue(request: Request) -> tuple[str, str | None]:
    """Return (token for the form, new cookie value to set or None if the cookie is fine)."""
    current = _cookie_value(request)
    new = None if current else secrets.token_urlsafe(32)
    return str(_serializer().dumps(current or new)), new


def set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def verify(request: Request, submitted: object) -> None:
    """Raise CsrfError unless `submitted` is a fresh token for this browser's cookie."""
    cookie = _cookie_value(request)
    if cookie is None:
        raise NoCsrfCookie("no CSRF cookie (are cookies blocked?)")
    if not isinstance(submitted, str) or not submitted:
        raise CsrfError("no CSRF token in the form")
    try:
        value = _serializer().loads(submitted, max_age=MAX_AGE)
    except SignatureExpired:
        raise CsrfError("the form expired") from None
    except BadSignature:
        raise CsrfError("the CSRF token is not valid") from None
    if not isinstance(value, str) or not hmac.compare_digest(value, cookie):
        raise CsrfError("the CSRF token belongs to another browser session")
