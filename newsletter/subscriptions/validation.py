"""Checks on what people type into the signup form or the CLI, with messages for humans."""

from __future__ import annotations

import re
import zoneinfo

from email_validator import EmailNotValidError, validate_email

_CATEGORY = re.compile(r"^([a-z\-]+)(\.[A-Za-z\-]+)?$")
# arXiv's archives (https://arxiv.org/category_taxonomy). Those in the first set are
# categories on their own (hep-th); the rest only with a subject class (cs.LG).
_STANDALONE_ARCHIVES = frozenset(
    {"astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph"}
    | {"nucl-ex", "nucl-th", "quant-ph"}
)
_ARCHIVES_WITH_SUBJECTS = frozenset(
    {"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat", "astro-ph", "cond-mat"}
    | {"nlin", "physics"}
)
# C0 and C1 control characters and DEL, except the tab and line breaks a textarea sends.
# PostgreSQL cannot store NUL in text at all; the others are never typed on purpose.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_KEYWORD_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000


class InvalidInput(ValueError):
    """Input a person can fix; the message says how."""


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def strip_control_characters(value: str) -> str:
    """Return `value` without control characters (to show a refused value back safely)."""
    return _CONTROL.sub("", value)


def check_printable(value: str) -> str:
    """Refuse text holding control characters (a NUL byte, escape codes)."""
    if has_control_characters(value):
        raise InvalidInput("remove the invisible control characters (such as a NUL byte)")
    return value


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
    match = _CATEGORY.match(value)
    known = match is not None and (
        match.group(1) in _ARCHIVES_WITH_SUBJECTS
        if match.group(2)
        else match.group(1) in _STANDALONE_ARCHIVES
    )
    if not known:
        raise InvalidInput(f"invalid arXiv category {value!r}: use a form like cs.LG or stat.ML")
    return value


def check_keyword(value: str) -> str:
    value = " ".join(check_printable(value).split())
    if not value:
        raise InvalidInput("a keyword cannot be empty")
    if len(value) > MAX_KEYWORD_LENGTH:
        raise InvalidInput(f"keyword too long (over {MAX_KEYWORD_LENGTH} characters)")
    return value


def check_description(value: str) -> str:
    value = check_printable(value).strip()
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"description too long (over {MAX_DESCRIPTION_LENGTH} characters)")
    return value


# Providers that ignore dots in the local part (ada.l@gmail.com is adal@gmail.com).
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_key(address: str) -> str:
    """The mailbox an address delivers to, for counting: tags and Gmail's dots dropped.

    `ada+news@x.org` and `ada+1@x.org` reach the same inbox, so a cap per mailbox counts
    them once. Only for counting: the subscription keeps the address as typed.
    """
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    domain = _DOTLESS_DOMAINS.get(domain, domain)
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"
