"""Checks on what people type into the signup form or the CLI, with messages for humans."""

from __future__ import annotations

import re
import zoneinfo

from email_validator import EmailNotValidError, validate_email

_CATEGORY = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")
MAX_KEYWORD_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000


class InvalidInput(ValueError):
    """Input a person can fix; the message says how."""


def normalise_email(raw: str) -> str:
    """Return the canonical form of an address (domain lower-cased) or refuse it."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid email address {raw!r}: {exc}") from None
    return result.normalized.lower()


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin"
        ) from None
    return name


def check_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise InvalidInput(f"invalid send hour {hour}: use 0-23 (local time)")
    return hour


def check_category(value: str) -> str:
    value = value.strip()
    if not _CATEGORY.match(value):
        raise InvalidInput(f"invalid arXiv category {value!r}: use a form like cs.LG or stat.ML")
    return value


def check_keyword(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise InvalidInput("a keyword cannot be empty")
    if len(value) > MAX_KEYWORD_LENGTH:
        raise InvalidInput(f"keyword too long (over {MAX_KEYWORD_LENGTH} characters)")
    return value


def check_description(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"description too long (over {MAX_DESCRIPTION_LENGTH} characters)")
    return value
