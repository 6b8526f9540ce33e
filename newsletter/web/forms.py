"""Read the signup and preferences forms: every field checked, every problem named.

Parsing collects one message per field instead of stopping at the first, and keeps what
the person typed so the page can show it again untouched.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsletter.config import MAX_PAPERS, get_settings
from newsletter.models import EmailFormat, Frequency
from newsletter.subscriptions.service import Preferences
from newsletter.subscriptions.validation import (
    InvalidInput,
    check_category,
    check_description,
    check_keyword,
    has_control_characters,
    normalise_email,
    strip_control_characters,
)

MAX_KEYWORDS = 30
MAX_CATEGORIES = 20
MAX_SEED_PAPERS = 20
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Offered as checkboxes; any other category can be typed in.
COMMON_CATEGORIES: dict[str, str] = {
    "cs.LG": "Machine learning",
    "cs.CL": "Computation and language (NLP)",
    "cs.CV": "Computer vision",
    "cs.AI": "Artificial intelligence",
    "stat.ML": "Statistics: machine learning",
    "cs.RO": "Robotics",
    "cs.IR": "Information retrieval",
    "cs.NE": "Neural and evolutionary computing",
    "cs.CR": "Cryptography and security",
    "cs.SE": "Software engineering",
    "cs.HC": "Human-computer interaction",
    "eess.AS": "Audio and speech processing",
}

_SEPARATORS = re.compile(r"[,;\n]+")
_NEW_ID = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_OLD_ID = re.compile(r"\b([a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
# The bundled sample's ids (newsletter ingest sample): the demo site's "papers like this".
_SAMPLE_ID = re.compile(r"\b(sample\.\d{4})\b")


@functools.cache
def timezones() -> list[str]:
    """IANA zone names people pick from (region/city names plus UTC)."""
    names = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/"))
    }
    return ["UTC", *sorted(names)]


def split_list(text: str) -> list[str]:
    return [item.strip() for item in _SEPARATORS.split(text or "") if item.strip()]


def parse_arxiv_id(text: str) -> str | None:
    """Find an arXiv id (no version) in an id, `arXiv:` form or abs/pdf/HF URL."""
    match = _NEW_ID.search(text) or _OLD_ID.search(text) or _SAMPLE_ID.search(text)
    return match.group(1) if match else None


@dataclass
class FormResult:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    preferences: Preferences | None = None
    email: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def default_values() -> dict[str, Any]:
    settings = get_settings()
    return values_from_preferences(
        Preferences(
            timezone=settings.defaults.timezone,
            send_hour=settings.defaults.send_hour,
            max_papers=settings.defaults.max_papers,
        )
    )


def values_from_preferences(prefs: Preferences, email: str = "") -> dict[str, Any]:
    """Turn stored preferences into the strings and lists the form fields show."""
    common = [c for c in prefs.categories if c in COMMON_CATEGORIES]
    other = [c for c in prefs.categories if c not in COMMON_CATEGORIES]
    return {
        "email": email,
        "keywords": ", ".join(prefs.keywords),
        "exclude": ", ".join(prefs.negative_keywords),
        "categories": common,
        "other_categories": ", ".join(other),
        "description": prefs.description,
        "seed_papers": ", ".join(prefs.seed_papers),
        "timezone": prefs.timezone,
        "hour": str(prefs.send_hour),
        "frequency": str(prefs.frequency),
        "weekday": str(prefs.weekday),
        "max_papers": str(prefs.max_papers),
        "format": str(prefs.format),
        "click_tracking": prefs.click_tracking,
        "also_trending": prefs.also_trending,
    }


def _text(form: Mapping[str, Any], name: str, limit: int = 5000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _many(form: Any, name: str) -> list[str]:
    getter = getattr(form, "getlist", None)
    values: Sequence[Any] = getter(name) if getter else [form.get(name)]
    return [v for v in values if isinstance(v, str)]


def _int(raw: str, low: int, high: int, what: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"Choose {what} from the list.") from None
    if not low <= value <= high:
        raise InvalidInput(f"Choose {what} between {low} and {high}.")
    return value


def parse_preferences_form(form: Any, *, with_email: bool) -> FormResult:
    """Read a submitted form; return the typed values, per-field errors and Preferences."""
    values: dict[str, Any] = {
        "email": _text(form, "email", 400),
        "keywords": _text(form, "keywords"),
        "exclude": _text(form, "exclude"),
        "categories": _many(form, "categories")[:100],
        "other_categories": _text(form, "other_categories"),
        "description": _text(form, "description", 10000),
        "seed_papers": _text(form, "seed_papers"),
        "timezone": _text(form, "timezone", 100),
        "hour": _text(form, "hour", 10),
        "frequency": _text(form, "frequency", 20),
        "weekday": _text(form, "weekday", 10),
        "max_papers": _text(form, "max_papers", 10),
        "format": _text(form, "format", 20),
        # Checkboxes: present when ticked, absent when not (whatever the value).
        "click_tracking": form.get("click_tracking") is not None,
        "also_trending": form.get("also_trending") is not None,
    }
    result = FormResult(values)
    errors = result.errors
    _refuse_control_characters(values, errors)
    if with_email:
        if not values["email"].strip():
            errors["email"] = "Enter your email address."
        else:
            try:
                result.email = normalise_email(values["email"])
            except InvalidInput as exc:
                errors["email"] = f"Enter a valid email address: {_reason(exc)}"
    keywords = _checked_list(values["keywords"], check_keyword, MAX_KEYWORDS, "keywords", errors)
    exclude = _checked_list(values["exclude"], check_keyword, MAX_KEYWORDS, "exclude", errors)
    categories = [c for c in values["categories"] if c.strip()]
    categories += split_list(values["other_categories"].replace(" ", ","))
    checked_categories: list[str] = []
    for category in categories:
        try:
            checked_categories.append(check_category(category))
        except InvalidInput:
            errors["other_categories"] = (
                f"“{category[:60]}” is not an arXiv category: use a form like cs.LG or stat.ML."
            )
            break
    if len(set(checked_categories)) > MAX_CATEGORIES:
        errors["other_categories"] = f"Choose at most {MAX_CATEGORIES} categories."
    try:
        description = check_description(values["description"])
    except InvalidInput as exc:
        errors["description"] = _reason(exc).capitalize() + "."
        description = ""
    seeds: list[str] = []
    for item in split_list(values["seed_papers"].replace(" ", ",")):
        arxiv_id = parse_arxiv_id(item)
        if arxiv_id is None:
            errors["seed_papers"] = (
                f"“{item[:60]}” is not an arXiv id or link: use a form like 2411.01234."
            )
            break
        seeds.append(arxiv_id)
    if len(set(seeds)) > MAX_SEED_PAPERS:
        errors["seed_papers"] = f"Give at most {MAX_SEED_PAPERS} papers."
    timezone = values["timezone"].strip()
    if timezone not in set(timezones()):
        errors["timezone"] = "Choose your timezone from the list."
    hour = weekday = max_papers = 0
    for name, low, high, what in (
        ("hour", 0, 23, "an hour"),
        ("weekday", 0, 6, "a weekday"),
        ("max_papers", 1, MAX_PAPERS, "a number of papers"),
    ):
        try:
            parsed = _int(values[name], low, high, what)
        except InvalidInput as exc:
            errors[name] = str(exc)
            continue
        if name == "hour":
            hour = parsed
        elif name == "weekday":
            weekday = parsed
        else:
            max_papers = parsed
    if values["frequency"] not in set(Frequency):
        errors["frequency"] = "Choose daily or weekly."
    if values["format"] not in set(EmailFormat):
        errors["format"] = "Choose HTML or plain text."
    if not (keywords or checked_categories or description or seeds) and not errors:
        errors["keywords"] = (
            "Tell us what you are interested in: a keyword, a category, a description "
            "or a paper you liked."
        )
    if errors:
        return result
    try:
        result.preferences = Preferences(
            keywords=keywords,
            negative_keywords=exclude,
            categories=checked_categories,
            description=description,
            seed_papers=seeds,
            timezone=timezone,
            send_hour=hour,
            frequency=values["frequency"],
            weekday=weekday,
            max_papers=max_papers,
            format=values["format"],
            click_tracking=values["click_tracking"],
            also_trending=values["also_trending"],
        ).validated()
    except InvalidInput as exc:
        errors["form"] = str(exc)
    return result


def _refuse_control_characters(values: dict[str, Any], errors: dict[str, str]) -> None:
    """Name each field holding control characters and show it back without them.

    A NUL byte cannot be stored by PostgreSQL, and nobody types one: it is a field error
    like any other, never a failed save.
    """
    for name, value in list(values.items()):
        items = value if isinstance(value, list) else [value]
        if not any(isinstance(item, str) and has_control_characters(item) for item in items):
            continue
        shown = "other_categories" if name == "categories" else name
        errors[shown] = "Remove the invisible control characters (such as a NUL byte)."
        if isinstance(value, list):
            values[name] = [strip_control_characters(item) for item in value]
        else:
            values[name] = strip_control_characters(value)


def _reason(exc: Exception) -> str:
    # Validation messages read "invalid email address 'x': why"; the form shows the why.
    return str(exc).split("': ", 1)[-1]


def _checked_list(raw: str, check: Any, limit: int, name: str, errors: dict[str, str]) -> list[str]:
    items = split_list(raw)
    out = []
    for item in items:
        try:
            out.append(check(item))
        except InvalidInput as exc:
            errors[name] = f"“{item[:60]}”: {exc}."
            return []
    if len(set(out)) > limit:
        errors[name] = f"Give at most {limit} keywords."
    return out
