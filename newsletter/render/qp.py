"""Quoted-printable pieces that can be concatenated into one valid body.

Each piece is encoded on its own (cached pieces once per edition) and ends with a soft
line break unless it ends a real line, so joined pieces never make a line longer than
the 76 characters RFC 2045 allows, and decode to the joined text.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable

SOFT_BREAK = b"=\r\n"


def qp_fragment(text: str) -> bytes:
    """Encode `text` (UTF-8) as quoted-printable with CRLF line ends, ready to be joined."""
    if not text:
        return b""
    # Lone carriage returns would reach the wire bare (b2a_qp keeps them): drop them.
    data = text.replace("\r\n", "\n").replace("\r", "").encode("utf-8")
    # istext: "\n" stays a line break; trailing spaces and tabs get encoded.
    encoded = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    if encoded.endswith(b"\r\n") and data.endswith(b"\n"):
        return encoded
    return _room_for_soft_break(encoded) + SOFT_BREAK


def _room_for_soft_break(encoded: bytes) -> bytes:
    """Break a last line of 76 characters so the soft break's "=" keeps it within 76.

    b2a_qp fills lines to 76; a piece's last line gets our "=" after it. The cut never
    falls inside an "=XX" escape.
    """
    start = encoded.rfind(b"\r\n") + 2 if b"\r\n" in encoded else 0
    if len(encoded) - start <= _LINE:
        return encoded
    cut = start + _LINE
    for back in (1, 2):
        if encoded[cut - back : cut - back + 1] == b"=":
            cut -= back
            break
    return encoded[:cut] + SOFT_BREAK + encoded[cut:]


def qp_body(pieces: Iterable[bytes]) -> bytes:
    """Join encoded pieces into a body; drop the final soft break (the boundary follows)."""
    body = b"".join(pieces)
    if body.endswith(SOFT_BREAK):
        body = body[: -len(SOFT_BREAK)]
    return body


# Printable ASCII without "=" or spaces encodes as itself: most per-reader values (signed
# URLs, numbers, addresses) take this path, which skips b2a_qp and its copies.
_PLAIN = re.compile(r"[!-<>-~]*\Z")
_LINE = 75  # 76 minus the "=" of the soft break


def qp_value(text: str) -> bytes:
    """Encode a short per-reader value like `qp_fragment`, faster when it is plain ASCII."""
    if not text:
        return b""
    if not _PLAIN.match(text):
        return qp_fragment(text)
    return qp_plain(text)


def qp_plain(text: str) -> bytes:
    """Encode text already known to be printable ASCII without "=" or whitespace."""
    data = text.encode("ascii")
    if len(data) <= _LINE:
        return data + SOFT_BREAK
    if len(data) <= 2 * _LINE:  # a signed link: usually two lines
        return data[:_LINE] + SOFT_BREAK + data[_LINE:] + SOFT_BREAK
    return SOFT_BREAK.join([data[i : i + _LINE] for i in range(0, len(data), _LINE)]) + SOFT_BREAK
