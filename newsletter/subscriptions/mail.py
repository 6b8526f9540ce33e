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


def confirm_url(subscriber: Subscriber, signup_request: int | None = None) -> str:
    """Link to confirm a signup; it applies the choices of `signup_request` when used."""
    extra = "" if signup_request is None else str(signup_request)
    token = make_token("confirm", subscriber.id, subscriber.token_generation, extra)
    return f"{get_settings().base_url}/confirm/{token}"


def context_for(
    name: str, subscriber: Subscriber, signup_request: int | None = None
) -> dict[str, Any]:
    """Build the template context each transactional email documents."""
    base = get_settings().base_url
    links = links_for(subscriber.id, subscriber.token_generation)
    if name == "confirm":
        return {"email": subscriber.email, "confirm_url": confirm_url(subscriber, signup_request)}
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
    this address; confirm here"), so it serves for a new address too. It carries no
    List-Unsubscribe: that link would be the subscriber's own, and whoever reads this
    inbox has not proved anything yet (its page used to lead on to the preferences).
    """
    url = f"{get_settings().base_url}/change-email/{token}"
    rendered = render_transactional("confirm", {"email": address, "confirm_url": url})
    return _send(subscriber, address, rendered, "change-email", list_headers=False)


def send_transactional(
    name: str, subscriber: Subscriber, *, signup_request: int | None = None
) -> SendResult | None:
    """Render and send one transactional email; return None (and log) if sending failed.

    A failed confirmation must not lose the signup: the subscriber row stays and the
    person can ask again, so the error is reported to the caller, not raised.
    """
    rendered = render_transactional(name, context_for(name, subscriber, signup_request))
    return _send(subscriber, subscriber.email, rendered, name)


def _send(
    subscriber: Subscriber,
    recipient: str,
    rendered: RenderedEmail,
    kind: str,
    *,
    list_headers: bool = True,
) -> SendResult | None:
    links = links_for(subscriber.id, subscriber.token_generation)
    html = subscriber.format != EmailFormat.TEXT
    message = build_message(rendered, recipient, links, html=html)
    if not list_headers:
        del message["List-Unsubscribe"]
        del message["List-Unsubscribe-Post"]
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
