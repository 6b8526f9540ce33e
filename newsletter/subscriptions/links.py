"""The signed URLs every email and page carries for one subscriber."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from newsletter.config import get_settings
from newsletter.subscriptions.tokens import make_token


@dataclass(frozen=True)
class SubscriberLinks:
    preferences: str
    unsubscribe: str
    unsubscribe_mailto: str
    view: str | None


def links_for(
    subscriber_id: int, generation: int, edition_key: str | None = None
) -> SubscriberLinks:
    settings = get_settings()
    base = settings.base_url
    unsubscribe_token = make_token("unsubscribe", subscriber_id, generation)
    view = None
    if edition_key:
        view = f"{base}/digest/{make_token('view', subscriber_id, generation, edition_key)}"
    return SubscriberLinks(
        preferences=f"{base}/preferences/{make_token('preferences', subscriber_id, generation)}",
        unsubscribe=f"{base}/unsubscribe/{unsubscribe_token}",
        unsubscribe_mailto=(
            f"mailto:{settings.sender_address}?subject=" + quote(f"unsubscribe {unsubscribe_token}")
        ),
        view=view,
    )
