"""Send the confirmation, welcome and goodbye emails through the configured sender.

These go out from the web request that caused them, after its transaction committed,
so a rolled-back signup never mails anyone. They are not Deliveries (no edition), so
`delivery_id` is 0 and the `kind` tag tells them apart in SES events.
"""

from __future__ import annotations

import logging
from typing import Any

from newsletter.config import get_settings
from newsletter.delivery.backends import process_sender
from newsletter.delivery.base import OutgoingEmail, SendError, SendResult
from newsletter.models import EmailFormat, Subscriber
from newsletter.render.digest import RenderedEmail
from newsletter.render.mime import build_message
from newsletter.render.transactional import render_transactional
from newsletter.schedule import next_due_label
from newsletter.subscriptions.links import links_for
from newsletter.subscriptions.tokens import make_token

log = logging.getLogger(__name__)


def confirm_url(subscriber: Subscriber) -> str:
    token = make_token("confirm", subscriber.id, subscriber.token_generation)
    return f"{get_settings().base_url}/confirm/{token}"


def context_for(name: str, subscriber: Subscriber) -> dict[str, Any]:
    """Build the template context each transactional email documents."""
    base = get_settings().base_url
    links = links_for(subscriber.id, subscriber.token_generation)
    if name == "confirm":
        return {"email": subscriber.email, "confirm_url": confirm_url(subscriber)}
    if name == "welcome":
        return {
            "email": subscriber.email,
            "preferences_url": links.preferences,
            "unsubscribe_url": links.unsubscribe,
            "next_due": next_due_label(subscriber),
        }
    if name == "goodbye":
        return {"email": subscriber.email, "resubscribe_url": f"{base}/"}
    raise ValueError(f"unknown email {name!r}")


def send_address_confirmation(
    subscriber: Subscriber, address: str, token: str
) -> SendResult | None:
    """Mail the confirmation link for a change of address to the new address.

    The confirm email says exactly what is needed ("someone asked to send digests to
    this address; confirm here"), so it serves for a new address too.
    """
    url = f"{get_settings().base_url}/change-email/{token}"
    rendered = render_transactional("confirm", {"email": address, "confirm_url": url})
    return _send(subscriber, address, rendered, "change-email")


def send_transactional(name: str, subscriber: Subscriber) -> SendResult | None:
    """Render and send one transactional email; return None (and log) if sending failed.

    A failed confirmation must not lose the signup: the subscriber row stays and the
    person can ask again, so the error is reported to the caller, not raised.
    """
    rendered = render_transactional(name, context_for(name, subscriber))
    return _send(subscriber, subscriber.email, rendered, name)


def _send(
    subscriber: Subscriber, recipient: str, rendered: RenderedEmail, kind: str
) -> SendResult | None:
    links = links_for(subscriber.id, subscriber.token_generation)
    html = subscriber.format != EmailFormat.TEXT
    message = build_message(rendered, recipient, links, html=html)
    email = OutgoingEmail(
        delivery_id=0,
        recipient=recipient,
        raw=message.as_bytes(),
        html=rendered.html if html else None,
        tags={"kind": kind},
    )
    try:
        return process_sender().send(email)
    except SendError as exc:
        log.warning("could not send the %s email to subscriber %s: %s", kind, subscriber.id, exc)
        return None
