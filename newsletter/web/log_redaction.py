"""Keep link tokens out of logs: `/preferences/<token>` is logged as `/preferences/…`.

A token in a path is the reader's key to their subscription; access logs are read by
more people, kept longer and shipped further than the database. The prefixes come from
the app's own routes (every path with a `{token}` part), so a new signed route is
covered without a list to keep up to date.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

from fastapi import FastAPI
from starlette.routing import BaseRoute

REDACTED = "…"  # one character, so a redacted line still reads as a path
_LOGGERS = ("uvicorn.access", "uvicorn.error")


def route_paths(routes: Iterable[BaseRoute]) -> Iterator[str]:
    """Yield every route path, looking into included routers (included without a prefix)."""
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield path
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from route_paths(included.routes)


def token_prefixes(routes: Iterable[BaseRoute]) -> list[str]:
    """Return the literal path parts before `{token}` in the app's routes."""
    prefixes = {p.split("{token}", 1)[0] for p in route_paths(routes) if "{token}" in p}
    return sorted(prefixes, key=len, reverse=True)


class TokenRedactor(logging.Filter):
    """Rewrite every string argument and message of a record with tokens removed."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        super().__init__()
        alternatives = "|".join(re.escape(p) for p in prefixes) or r"(?!)"
        self._pattern = re.compile(rf"({alternatives})[^/?#\s\"']+")

    def redact(self, text: str) -> str:
        return self._pattern.sub(rf"\g<1>{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install(app: FastAPI) -> TokenRedactor:
    """Attach one redactor to uvicorn's loggers, every `newsletter.*` logger and the handlers.

    A filter on a logger sees only records logged on that very logger (not its
    children), so each of our module loggers gets it; they all exist once the routes
    are imported. A filter on a handler sees whatever propagates to it.
    """
    redactor = TokenRedactor(token_prefixes(app.routes))
    ours = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "newsletter"]
    for name in (*_LOGGERS, *ours):
        logger = logging.getLogger(name)
        _replace(logger, redactor)
        for handler in logger.handlers:
            _replace(handler, redactor)
    for handler in logging.getLogger().handlers:
        _replace(handler, redactor)
    app.state.token_redactor = redactor
    return redactor


def _replace(target: logging.Filterer, redactor: TokenRedactor) -> None:
    # Apps created again (tests, reloads) must not stack filters on the shared loggers.
    for old in [f for f in target.filters if isinstance(f, TokenRedactor)]:
        target.removeFilter(old)
    target.addFilter(redactor)
