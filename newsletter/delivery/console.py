"""Print messages to stdout: for development and for piping into other tools."""

from __future__ import annotations

import sys
import uuid

from newsletter.delivery.base import OutgoingEmail, SendResult


class ConsoleSender:
    name = "console"

    def send(self, email: OutgoingEmail) -> SendResult:
        sys.stdout.write(email.raw.decode("utf-8", errors="replace"))
        sys.stdout.write("\n" + "-" * 72 + "\n")
        sys.stdout.flush()
        return SendResult(message_id=f"console-{uuid.uuid4()}")
