"""The embedded default: write each message to an outbox folder (.eml + .html)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from newsletter.delivery.base import OutgoingEmail, SendResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class FileSender:
    name = "file"

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, email: OutgoingEmail) -> SendResult:
        self.outbox.mkdir(parents=True, exist_ok=True)
        stem = f"{email.delivery_id:06d}-{_UNSAFE.sub('_', email.recipient)}"
        _write_atomically(self.outbox / f"{stem}.eml", email.raw)
        if email.html is not None:
            _write_atomically(self.outbox / f"{stem}.html", email.html.encode("utf-8"))
        return SendResult(message_id=f"file-{uuid.uuid4()}")


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader never sees half a message, even if the process dies mid-write.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
