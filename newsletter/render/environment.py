"""The one Jinja environment for emails (autoescaped HTML) and the one CSS inliner."""

from __future__ import annotations

import functools
import logging
import textwrap

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from premailer import Premailer


@functools.cache
def email_environment() -> Environment:
    """Return the email template environment (HTML autoescaped, text not).

    The templates ship inside the package (newsletter/templates/email), loaded through
    importlib.resources, so an installed wheel renders the same emails as a checkout.
    """
    env = Environment(
        loader=PackageLoader("newsletter", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["wrap"] = wrap
    return env


TEXT_WIDTH = 72


@functools.lru_cache(maxsize=16384)
def wrap(text: str, indent: int = 0, room: int | None = None) -> str:
    """Wrap plain text at 72 columns, every line indented by `indent` spaces.

    `room`: the first line follows a prefix the template writes itself ("10. "), so it
    is wrapped as if indented by `room` and given back without that indent. Long words
    (URLs) are never broken: a link must stay whole to work.
    """
    pad = " " * indent
    first = " " * (indent if room is None else room)
    wrapped = textwrap.fill(
        text,
        TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=pad,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return wrapped[len(first) :] if room is not None else wrapped


def inline_css(html: str, *, leftover: bool = True) -> str:
    """Move the stylesheet into style attributes, keeping @media rules in a <style> block.

    Mail clients such as Gmail's apps ignore or rewrite <style>; inline styles survive.
    `strip_important=False` matters: premailer's default strips `!important` from the
    rules it leaves behind, and then the phone and dark-mode overrides lose to the
    inlined styles. cssutils' warnings about mail-only properties (mso-hide, ...) are
    silenced: they would otherwise be logged once per email. `leftover=False` skips
    writing the <style> block (a third of premailer's time) when only the body is kept.
    `align_floating_images=False`: that pass re-parses every image's style with cssutils,
    uncached and validated (~6 ms per image, half the cost of a card), only to copy a
    CSS float into an align attribute; our stylesheet floats no image (a test checks).
    """
    premailer = Premailer(
        html,
        strip_important=False,
        keep_style_tags=False,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        disable_leftover_css=not leftover,
        align_floating_images=False,
    )
    # No pretty-printing: libxml2 would add newlines that depend on what follows a card,
    # and a card must inline to the same bytes wherever it stands.
    return str(premailer.transform(pretty_print=False))
