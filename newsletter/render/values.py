"""A reader's values for the slots of the edition's cached parts, as fragments.

Values are escaped here exactly as premailer's serialiser (lxml) escapes text, so a
composed email equals one rendered from scratch. Values that repeat across an edition's
readers (reasons, preheaders, "next digest" labels, card numbers) are encoded once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from newsletter.render.digest import (
    CARD_LINKS,
    Card,
    EditionLabels,
    Reader,
    intro_for,
    more_label,
    preheader_for,
    reason_text,
    shell_flags,
)
from newsletter.render.fragments import Fragment, Piece, escape_attr, escape_html
from newsletter.render.qp import qp_plain

# ASCII URL characters that need neither HTML escaping nor quoted-printable encoding.
_PLAIN_URL = re.compile(r"[A-Za-z0-9_.~:/?#@!$'()*+,;%-]*\Z")


@functools.cache
def _number(number: int) -> Fragment:
    return Fragment.value(str(number))


def card_values(
    urls: Mapping[str, str | None], reason: str, number: int
) -> tuple[dict[str, Piece], dict[str, Piece]]:
    """A card's per-reader values as fragments, for the HTML and the text card."""
    html: dict[str, Piece] = {"number": _number(number)}
    text: dict[str, Piece] = {"number": html["number"]}
    for target, url in urls.items():
        name = URL_SLOTS[target]
        url = url or ""
        if _PLAIN_URL.match(url):
            # Signed URLs: ASCII with nothing to escape or encode, the same in both parts.
            html[name] = text[name] = Fragment(url, qp_plain(url), len(url))
        else:
            text[name] = Fragment.value(url)
            html[name] = Fragment.value(escape_attr(url))
    html["reason"] = repeated_pair(reason)[1]
    text["reason"] = _reason_text(reason)
    return html, text


@functools.lru_cache(maxsize=16384)
def _reason_text(reason: str) -> Fragment:
    return Fragment.value(reason_text(reason))


def pair(value: str, *, attr: bool = False) -> tuple[Fragment, Fragment]:
    """A per-reader value for the text part and, escaped, for the HTML part."""
    plain = Fragment.value(value)
    escaped = escape_attr(value) if attr else escape_html(value)
    return plain, plain if escaped == value else Fragment.value(escaped)


# Reasons, preheaders, "next digest" labels and counts repeat across an edition's
# readers (the same interests, top papers and local hours): encode each once.
repeated_pair = functools.lru_cache(maxsize=16384)(pair)


URL_SLOTS = {target: f"url_{target}" for target in CARD_LINKS}


def variant(reader: Reader, picks: Sequence[Card], shown: int) -> tuple[bool, ...]:
    """The shell's flags as a cache key, in `shell_flags`' order."""
    return tuple(shell_flags(reader, picks, shown).values())


ShellValues = dict[str, Piece | list[Piece]]


def shell_values(
    labels: EditionLabels, reader: Reader, picks: Sequence[Card], shown: int
) -> tuple[ShellValues, ShellValues]:
    """The shell's per-reader values with every pick shown: (HTML-escaped, as they are)."""
    html: ShellValues = {}
    text: ShellValues = {}
    for name, value in (
        ("email", reader.email),
        ("view_url", reader.view_url),
        ("preferences_url", reader.preferences_url),
        ("unsubscribe_url", reader.unsubscribe_url),
    ):
        text[name], html[name] = pair(value, attr="url" in name)
    text["next_due"], html["next_due"] = repeated_pair(reader.next_due or "")
    text["intro"], html["intro"] = repeated_pair(intro_for(labels, picks, reader.pool))
    shown_values(picks, shown, html, text)
    return html, text


def shown_values(picks: Sequence[Card], shown: int, html: ShellValues, text: ShellValues) -> None:
    """Set the values that depend on how many picks are shown (see `reader_values`)."""
    text["preheader"], html["preheader"] = repeated_pair(preheader_for(picks, shown))
    mine = sum(1 for p in picks if not p.trending)
    text["more_label"], html["more_label"] = repeated_pair(more_label(mine - shown))
