"""Read subscriber lists exported by us, listmonk or Substack into import rows.

The format is told by the header: listmonk's export has an `attributes` column (JSON),
Substack's an `email_disabled` or `active_subscription` column; anything else with an
`email` column is ours (the columns `newsletter subscribers export` writes). Each
reader returns the fields of Preferences it knows, and whether the source list says
the address stopped mail (then it is skipped, never subscribed again by an import).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newsletter.subscriptions.validation import InvalidInput

# Lists in one cell: "diffusion; graph neural networks" (our export joins with "; ").
_LIST_SPLIT = re.compile(r"\s*[;|]\s*")
_CATEGORY_SPLIT = re.compile(r"[\s;|,]+")
STOPPED = {"unsubscribed", "bounced", "complained", "blocklisted"}


@dataclass
class SourceRow:
    """One row as the source list gives it: the address, choices, and whether it stopped."""

    email: str
    choices: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # pending / active as the source says; None: unknown
    stopped: str | None = None  # why the source list no longer mails it


def split_list(value: Any, pattern: re.Pattern[str] = _LIST_SPLIT) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part for part in pattern.split(str(value or "").strip()) if part]


def _int(value: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number, not {value!r}") from None


def _choices(get: Callable[[str], Any]) -> dict[str, Any]:
    """The Preferences fields a row gives, from our column names (missing ones left out)."""
    out: dict[str, Any] = {}
    for key in ("keywords", "negative_keywords", "seed_papers"):
        if get(key):
            out[key] = split_list(get(key))
    if get("categories"):
        out["categories"] = split_list(get("categories"), _CATEGORY_SPLIT)
    for key in ("description", "timezone", "frequency", "format"):
        if get(key):
            out[key] = str(get(key)).strip()
    if str(get("hour") or "").strip():
        out["send_hour"] = _int(get("hour"), "hour")
    for key in ("weekday", "max_papers"):
        if str(get(key) or "").strip():
            out[key] = _int(get(key), key.replace("_", " "))
    return out


def ours(row: dict[str, str]) -> SourceRow:
    status = (row.get("status") or "").strip().lower() or None
    return SourceRow(
        email=row.get("email", ""),
        choices=_choices(row.get),
        status=status,
        stopped=status if status in STOPPED else None,
    )


def listmonk(row: dict[str, str]) -> SourceRow:
    raw = (row.get("attributes") or "").strip()
    try:
        attributes = json.loads(raw) if raw else {}
    except ValueError:
        raise InvalidInput("the attributes column is not JSON") from None
    if not isinstance(attributes, dict):
        raise InvalidInput("the attributes column is not a JSON object")
    status = (row.get("status") or "").strip().lower()
    return SourceRow(
        email=row.get("email", ""),
        choices=_choices(attributes.get),
        stopped="blocklisted" if status == "blocklisted" else None,
    )


def substack(row: dict[str, str]) -> SourceRow:
    disabled = (row.get("email_disabled") or "").strip().lower() in ("true", "1", "yes")
    return SourceRow(email=row.get("email", ""), stopped="email disabled" if disabled else None)


READERS: dict[str, Callable[[dict[str, str]], SourceRow]] = {
    "newsletter": ours,
    "listmonk": listmonk,
    "substack": substack,
}


def detect(header: list[str]) -> str:
    """Name the format of a list by its header row (lower-cased, stripped)."""
    if "email" not in header:
        found = ", ".join(header[:10]) or "nothing"
        raise InvalidInput(f"the first line must be a header with an email column (found: {found})")
    if "attributes" in header:
        return "listmonk"
    if "email_disabled" in header or "active_subscription" in header:
        return "substack"
    return "newsletter"
