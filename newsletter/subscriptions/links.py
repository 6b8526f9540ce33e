"""The signed URLs every email and page carries for one subscriber."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
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


CLICK_TARGETS = ("abs", "pdf", "hf", "code", "project")


class PaperLinks(Protocol):
    """The stored links of a paper (a Paper row, or a card's DigestPaper)."""

    @property
    def abs_url(self) -> str | None: ...
    @property
    def pdf_url(self) -> str | None: ...
    @property
    def hf_url(self) -> str | None: ...
    @property
    def code_url(self) -> str | None: ...
    @property
    def project_url(self) -> str | None: ...


def own_url(paper: PaperLinks, target: str) -> str | None:
    """The paper's own stored URL for `target` (one of CLICK_TARGETS), or None.

    Defence in depth: whatever ingest stored, only ever http(s) leaves here.
    """
    url: str | None = getattr(paper, f"{target}_url") if target in CLICK_TARGETS else None
    return url if url and url.startswith(("https://", "http://")) else None


def click_link(subscriber_id: int, generation: int, arxiv_id: str, target: str = "abs") -> str:
    """Return the signed click-tracking URL for one of a paper's own links.

    The token names the paper and which of its links, never a URL, so the redirect can
    only lead to that paper's stored URLs (no open redirect).
    """
    if target not in CLICK_TARGETS:
        raise ValueError(f"unknown click target {target!r}")
    token = make_token("click", subscriber_id, generation, f"{arxiv_id}|{target}")
    return f"{get_settings().base_url}/c/{token}"


# "More like this" records a liked paper, "Less like this" a hidden one.
FEEDBACK_CHOICES = ("more", "less")


def feedback_link(subscriber_id: int, generation: int, arxiv_id: str, choice: str) -> str:
    """Return the signed "More/Less like this" URL of one paper for one reader.

    Opening it shows a page with one button; only the button's POST records anything
    (mail scanners open every link in an email).
    """
    if choice not in FEEDBACK_CHOICES:
        raise ValueError(f"unknown feedback choice {choice!r}")
    token = make_token("feedback", subscriber_id, generation, f"{arxiv_id}|{choice}")
    return f"{get_settings().base_url}/f/{token}"
