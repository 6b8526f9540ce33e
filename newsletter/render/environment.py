"""The one Jinja environment for emails: autoescaped, strict about undefined names."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(
    os.environ.get("NEWSLETTER_TEMPLATES_DIR", Path(__file__).resolve().parents[2] / "templates")
)


@functools.cache
def email_environment() -> Environment:
    """Return the email template environment (HTML autoescaped, text not)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env
