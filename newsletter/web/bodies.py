"""Read request bodies with a hard cap, and refuse JSON that cannot be handled or stored.

`request.body()` and `request.form()` read everything a client sends before anyone can
look at its size: a 50 MB POST costs the process 50 MB first. Here the stream is read
chunk by chunk and dropped as soon as it passes the limit, whatever Content-Length says
(chunked uploads declare none).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request


class BodyTooLarge(Exception):
    """The client sent (or announced) more than the endpoint accepts."""


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


async def capped_stream(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    """Yield the body's chunks; raise BodyTooLarge once more than `limit` bytes came."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"the body announces {declared} bytes; at most {limit} are accepted")
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
        yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    """Return the whole body if it is at most `limit` bytes, else raise BodyTooLarge."""
    return b"".join([chunk async for chunk in capped_stream(request, limit)])


def json_problem(text: str | bytes) -> str | None:
    """Say why this JSON text cannot be processed and stored, or None if it can (or is not JSON).

    Deep nesting exhausts Python's recursion limit in the parser; NUL characters and lone
    surrogates are valid JSON escapes that no database text column accepts.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        return "the JSON is nested too deeply"
    except ValueError:
        return None
    return unstorable(value)


def unstorable(value: Any) -> str | None:
    """Say whether a parsed JSON value holds text a database cannot store (None: it is fine)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not _storable(item):
            return "the JSON holds a NUL character or an unpaired surrogate"
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
