"""Build the MIME message every backend sends: text + HTML, with list headers (RFC 8058)."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from newsletter.config import get_settings
from newsletter.render.digest import RenderedEmail
from newsletter.subscriptions.links import SubscriberLinks
from newsletter.timeutil import utcnow


def build_message(
    rendered: RenderedEmail, to: str, links: SubscriberLinks, *, html: bool = True
) -> EmailMessage:
    """Assemble a multipart/alternative message (text first, then HTML)."""
    settings = get_settings()
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = settings.mail_from
    message["To"] = to
    if settings.reply_to:
        message["Reply-To"] = settings.reply_to
    message["Date"] = format_datetime(utcnow())
    domain = Address(addr_spec=settings.sender_address).domain
    message["Message-ID"] = make_msgid(domain=domain)
    message["List-Id"] = f"Trending papers <{settings.list_id}>"
    message["List-Unsubscribe"] = f"<{links.unsubscribe}>, <{links.unsubscribe_mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    if html:
        message.add_alternative(rendered.html, subtype="html")
    return message
