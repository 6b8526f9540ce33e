"""The embedded default: write each message to an outbox folder (.eml + .html)."""

from __future__ import annotations

import os
import re
import time
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
        recipient = _UNSAFE.sub("_", email.recipient)
        if email.delivery_id:
            stem = f"{email.delivery_id:06d}-{recipient}"
        else:
            # Confirm/welcome/goodbye mail has no Delivery row: name it by kind and a
            # time-ordered unique part so a second one never overwrites the first.
            kind = _UNSAFE.sub("_", email.tags.get("kind", "mail"))
            stem = f"{kind}-{time.time_ns()}-{uuid.uuid4().hex[:6]}-{recipient}"
        _write_atomically(self.outbox / f"{stem}.eml", email.raw)
        if email.html is not None:
            _write_atomically(self.outbox / f"{stem}.html", email.html.encode("utf-8"))
        return SendResult(message_id=f"file-{uuid.uuid4()}")


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader never sees half a message, even if the process dies mid-write.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
