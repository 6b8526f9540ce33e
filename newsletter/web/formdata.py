"""Read a posted form without ever turning a malformed or oversized body into a 500."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartParser

from newsletter.web import csrf
from newsletter.web.bodies import BodyTooLarge, capped_stream
from newsletter.web.templating import notice

# Our forms are small; anything larger is not a person filling them in.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 200


class BadForm(Exception):
    """The body could not be read as a form."""


class FormTooLarge(BadForm):
    """The body is larger than any of our forms can be; reading stopped at the limit."""


async def read_form(request: Request) -> FormData:
    """Parse a urlencoded or multipart form, reading at most MAX_BODY_BYTES of it.

    The parsers read from a capped stream, so an oversized body is dropped as soon as it
    passes the limit instead of being held in memory first.
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    stream = capped_stream(request, MAX_BODY_BYTES)
    try:
        if content_type == "multipart/form-data":
            parser: FormParser | MultiPartParser = MultiPartParser(
                request.headers, stream, max_files=0, max_fields=MAX_FIELDS
            )
        elif content_type in ("application/x-www-form-urlencoded", ""):
            parser = FormParser(request.headers, stream, max_fields=MAX_FIELDS)
        else:
            return FormData()  # not a form: no fields, so the CSRF check refuses it
        return await parser.parse()
    except BodyTooLarge as exc:
        raise FormTooLarge(str(exc)) from None
    except Exception as exc:  # multipart/urlencoded parser errors come in several types
        raise BadForm(f"the form could not be read: {exc}") from None
    finally:
        await stream.aclose()


async def read_form_or_refusal(request: Request) -> FormData | PlainTextResponse:
    """Read a form, or return the plain-text refusal (413 too large, 400 unreadable).

    For endpoints that mail programs post to as well as people (one-click unsubscribe,
    More/Less like this): a short text answer suits both.
    """
    try:
        return await read_form(request)
    except FormTooLarge:
        return PlainTextResponse("the form is too large\n", status_code=413)
    except BadForm:
        return PlainTextResponse("could not read the form\n", status_code=400)


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


def unreadable(request: Request, problem: BadForm | None = None) -> HTMLResponse:
    """The page for a form we could not read: 413 when it was too large, else 400."""
    if isinstance(problem, FormTooLarge):
        return notice(
            request,
            "That form is too large",
            "The form you sent is much larger than any of ours can be, so we did not read "
            "it. Shorten what you typed and send it again.",
            413,
            link=("Go to the start page", "/"),
        )
    return notice(request, "That didn't work", "We could not read the form. Please try again.", 400)
