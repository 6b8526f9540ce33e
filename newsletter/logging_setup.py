"""Log context (task id, edition, delivery) on every line, and JSON lines when asked.

A task's work logs from many modules; the context that says which task, edition and
delivery a line belongs to is set once (workers/metrics.py at task_prerun, the send
step per delivery) in a context variable, and a logging filter copies it onto every
record. With NEWSLETTER_LOG_FORMAT=json each line is one JSON object carrying those
fields, ready for a log store to index; the default text format appends them as
`key=value`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("newsletter_log_context", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


def current_context() -> dict[str, Any]:
    """Return the fields every log line of the current work carries."""
    return dict(_CONTEXT.get() or {})


def update_context(**fields: Any) -> None:
    """Add fields to the current work's context (None values are left out).

    For the per-item fields of a task (the delivery being sent): the task's own context
    is cleared when the task ends, so nothing leaks into the next one.
    """
    merged = current_context()
    merged.update({k: v for k, v in fields.items() if v is not None})
    _CONTEXT.set(merged)


def clear_context() -> None:
    """Forget the context (a task ended)."""
    _CONTEXT.set(None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Carry `fields` on every log line inside the block, then restore what was before."""
    token = _CONTEXT.set(
        {**current_context(), **{k: v for k, v in fields.items() if v is not None}}
    )
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Copy the current context onto each record (`record.context` as text, fields too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_context()
        record.log_context = fields
        record.context = "".join(f" {k}={v}" for k, v in fields.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        # A record made before the filter ran (another handler) still gets the context.
        line.update(getattr(record, "log_context", None) or current_context())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter_for(log_format: str) -> logging.Formatter:
    """Return the formatter of NEWSLETTER_LOG_FORMAT (text or json)."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def install(handler: logging.Handler, log_format: str, *, keep_formatter: bool = False) -> None:
    """Give `handler` the context filter and, for json (or unless kept), our formatter."""
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    if log_format == "json" or not keep_formatter:
        handler.setFormatter(formatter_for(log_format))


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr in `log_format` (CLI and web processes)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_newsletter", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._newsletter = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    install(handler, log_format)
    root.setLevel(level)


def json_logs_if_asked(log_format: str) -> None:
    """With NEWSLETTER_LOG_FORMAT=json, make the root and uvicorn's loggers write JSON lines.

    Text (the default) leaves each process's logging as its framework set it up.
    """
    if log_format != "json":
        return
    configure_logging("json")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            install(handler, "json")
