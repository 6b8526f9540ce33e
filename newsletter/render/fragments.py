"""Rendered templates split at per-reader slots into fragments that carry their own QP.

A template is rendered once per edition with an unguessable marker in each place a
reader's value goes (`slot`); `Compiled.parse` splits the output at the markers, and
`Compiled.fill` puts a reader's values back. Each fragment knows its quoted-printable
form (encoded once, see qp.py) and its UTF-8 size, so an email's size is known before
it is joined and its MIME body is a join of bytes (mime.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from markupsafe import Markup

from newsletter.render.qp import qp_fragment, qp_value

# Per process: nothing in a paper's text can collide with a marker it cannot know.
_NONCE = secrets.token_hex(8)
_MARK = f"x{_NONCE}x"
_SLOT = re.compile(rf"(?:<!--)?{_MARK}([a-z_]+){_MARK}(?:-->)?")
CARD_START = f"<!--{_MARK}start{_MARK}-->"
CARD_SEP = f"<!--{_MARK}sep{_MARK}-->"
CARD_END = f"<!--{_MARK}end{_MARK}-->"


def slot(name: str) -> Markup:
    """A marker where a per-reader value goes; slots named *url* sit inside attributes."""
    return Markup(f"{_MARK}{name}{_MARK}")


class Fragment(NamedTuple):
    """A piece of an email that is the same for the whole edition: text, its QP, its size.

    A named tuple, not a frozen dataclass: each email makes ~60 of them for its values,
    and a frozen dataclass pays an object.__setattr__ per field.
    """

    text: str
    qp: bytes
    size: int

    @classmethod
    def of(cls, text: str) -> Fragment:
        return cls(text, qp_fragment(text), len(text.encode("utf-8")))

    @classmethod
    def value(cls, text: str) -> Fragment:
        """A per-reader value, encoded once per email and reused wherever it appears."""
        return cls(text, qp_value(text), len(text.encode("utf-8")))


# A composed email is a flat list of fragments: the edition's cached ones and the
# reader's values (each encoded once per email).
Piece = Fragment
_SIZE = attrgetter("size")
_TEXT = attrgetter("text")
NEWLINE = Fragment.of("\n")


@dataclass(frozen=True)
class Compiled:
    """A rendered template split at its slots: fragments, with slot names where values go."""

    ops: tuple[Fragment | str, ...]
    slots: tuple[tuple[int, str], ...]

    @classmethod
    def parse(cls, text: str) -> Compiled:
        bits = _SLOT.split(text)  # static, name, static, name, ..., static
        ops: list[Fragment | str] = []
        for index, bit in enumerate(bits):
            if index % 2:
                ops.append(bit)
            elif bit:
                ops.append(Fragment.of(bit))
        slots = tuple((i, op) for i, op in enumerate(ops) if isinstance(op, str))
        return cls(tuple(ops), slots)

    def fill(self, values: Mapping[str, Piece | list[Piece]], out: list[Piece]) -> None:
        """Append the template's pieces to `out`, with the values in their slots."""
        start = len(out)
        out.extend(self.ops)  # type: ignore[arg-type]  # slot names are replaced below
        nested = False
        for index, name in self.slots:
            value = values[name]
            out[start + index] = value  # type: ignore[assignment]
            nested = nested or value.__class__ is list
        if nested:  # a slot took a list of pieces (the shell's cards): flatten it
            tail = out[start:]
            del out[start:]
            for piece in tail:
                if piece.__class__ is list:
                    out.extend(piece)
                else:
                    out.append(piece)


def escape_html(value: str) -> str:
    """Escape a text value exactly as lxml serialises text (premailer's output)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(value: str) -> str:
    return escape_html(value).replace('"', "&quot;")


def size_of(pieces: Iterable[Piece]) -> int:
    """The UTF-8 size of the joined pieces (each fragment knows its own)."""
    return sum(map(_SIZE, pieces))


def join(pieces: Iterable[Piece]) -> str:
    return "".join(map(_TEXT, pieces))
