"""Confirmation, welcome and goodbye emails: one template pair each (HTML + text).

Contexts: confirm {email, confirm_url}; welcome {email, preferences_url, unsubscribe_url,
next_due}; goodbye {email, resubscribe_url};
links {email, preferences_url, unsubscribe_url} (an operator resent the reader's links).
"""

from __future__ import annotations

from typing import Any

from newsletter.render.digest import RenderedEmail
from newsletter.render.environment import email_environment, inline_css

SUBJECTS = {
    "confirm": "Confirm your subscription to trending papers",
    "welcome": "Welcome to your trending-papers digest",
    "goodbye": "You're unsubscribed",
    "links": "Your trending-papers preferences link",
}


def render_transactional(name: str, context: dict[str, Any]) -> RenderedEmail:
    """Render the `name` email (confirm | welcome | goodbye | links) in both parts."""
    if name not in SUBJECTS:
        raise ValueError(f"unknown email {name!r}")
    env = email_environment()
    return RenderedEmail(
        subject=SUBJECTS[name],
        html=inline_css(env.get_template(f"email/{name}.html").render(context)),
        text=env.get_template(f"email/{name}.txt").render(context),
    )
