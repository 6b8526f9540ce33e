"""Read a posted form without ever turning a malformed body into a 500."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from newsletter.web import csrf
from newsletter.web.templating import notice

# Our forms are small; anything larger is not a person filling them in.
MAX_BODY_BYTES = 64 * 1024


class BadForm(Exception):
    """The body could not be read as a form."""


async def read_form(request: Request) -> FormData:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadForm("the form is too large")
    try:
        return await request.form(max_files=0, max_fields=200)
    except Exception as exc:  # multipart/urlencoded parser errors come in several types
        raise BadForm(f"the form could not be read: {exc}") from None


def csrf_problem(request: Request, form: FormData) -> str | None:
    """Return a message for the person if the form's CSRF token fails, else None."""
    try:
        csrf.verify(request, form.get(csrf.FIELD))
    except csrf.NoCsrfCookie:
        return (
            "Your browser did not send back this site's form cookie, so we could not accept "
            "the form. Allow cookies for this site and send it again; nothing was changed."
        )
    except csrf.CsrfError:
        return (
            "This form expired or was opened in another browser window, so we could not "
            "accept it. Nothing was changed: please send it again."
        )
    return None


def unreadable(request: Request) -> HTMLResponse:
    return notice(request, "That didn't work", "We could not read the form. Please try again.", 400)
