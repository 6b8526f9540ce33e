"""Render the site's pages: one autoescaped Jinja environment, CSRF token, safe headers."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from newsletter.config import MAX_PAPERS
from newsletter.web import csrf

TEMPLATES_DIR = Path(__file__).parent / "templates"


@functools.cache
def page_environment() -> Environment:
    """Return the page template environment (autoescape on for every template)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["max_papers_limit"] = MAX_PAPERS
    return environment


def security_headers(nonce: str) -> dict[str, str]:
    """Headers every page sends.

    no-referrer matters most: page URLs carry signed tokens, and a click to arXiv must
    not hand them to another site. Scripts run only with this response's nonce.
    """
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{nonce}'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def render_page(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render `template` with a CSRF token for its forms and set the cookie if needed."""
    token, new_cookie = csrf.issue(request)
    nonce = secrets.token_urlsafe(16)
    page_context = {"csrf_field": csrf.FIELD, "csrf_token": token, "nonce": nonce}
    page_context.update(context or {})
    html = page_environment().get_template(template).render(page_context)
    response = HTMLResponse(html, status_code=status_code, headers=security_headers(nonce))
    if new_cookie:
        csrf.set_cookie(request, response, new_cookie)
    return response


def notice(
    request: Request,
    title: str,
    message: str,
    status_code: int = 200,
    *,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    """Render a short page that says one thing (errors, confirmations)."""
    return render_page(
        request,
        "notice.html",
        {"title": title, "message": message, "link": link},
        status_code=status_code,
    )
